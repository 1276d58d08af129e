using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Federation.Data.Migrations
{
    /// <inheritdoc />
    public partial class SamlIdpMetadataFollowing : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // MetadataUrl, MetadataRefreshedAt and NextCertificate live in the Saml JSON column: absent reads as null.
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Nothing to undo: older code ignores the extra JSON members.
        }
    }
}
