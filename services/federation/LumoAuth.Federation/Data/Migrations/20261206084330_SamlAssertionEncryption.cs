using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Federation.Data.Migrations
{
    /// <inheritdoc />
    public partial class SamlAssertionEncryption : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // IdPs added before the setting existed say so explicitly (off: encrypted assertions are taken, not required).
            migrationBuilder.Sql("""
                UPDATE identity_providers SET "Saml" = jsonb_set("Saml", '{WantAssertionsEncrypted}', 'false')
                WHERE "Saml" IS NOT NULL AND "Saml" -> 'WantAssertionsEncrypted' IS NULL;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""UPDATE identity_providers SET "Saml" = "Saml" - 'WantAssertionsEncrypted' WHERE "Saml" IS NOT NULL;""");
        }
    }
}
