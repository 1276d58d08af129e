using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Federation.Data.Migrations
{
    /// <inheritdoc />
    public partial class LdapNestedGroups : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Directories added before the setting existed say so explicitly (off), as new ones do.
            migrationBuilder.Sql("""
                UPDATE identity_providers SET "Ldap" = jsonb_set("Ldap", '{NestedGroups}', 'false')
                WHERE "Ldap" IS NOT NULL AND "Ldap" -> 'NestedGroups' IS NULL;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""UPDATE identity_providers SET "Ldap" = "Ldap" - 'NestedGroups' WHERE "Ldap" IS NOT NULL;""");
        }
    }
}
