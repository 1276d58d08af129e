using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Federation.Data.Migrations
{
    /// <inheritdoc />
    public partial class LdapSync : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The schedule and the last import's summary live in the provider's JSON settings; both start absent (null).
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""UPDATE identity_providers SET "Ldap" = "Ldap" - 'SyncIntervalMinutes' - 'LastSync' WHERE "Ldap" IS NOT NULL;""");
        }
    }
}
