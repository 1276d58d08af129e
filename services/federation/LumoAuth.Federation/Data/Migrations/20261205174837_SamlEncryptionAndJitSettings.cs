using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Federation.Data.Migrations
{
    /// <inheritdoc />
    public partial class SamlEncryptionAndJitSettings : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "EncryptAssertions",
                table: "saml_service_providers",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "EncryptAssertions",
                table: "saml_service_providers");
        }
    }
}
