using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Federation.Data.Migrations
{
    /// <inheritdoc />
    public partial class SamlKeyRotation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_saml_signing_keys_TenantId",
                table: "saml_signing_keys");

            migrationBuilder.AddColumn<string>(
                name: "Status",
                table: "saml_signing_keys",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                // Each tenant's one key so far is the one that signs.
                defaultValue: "current");

            migrationBuilder.CreateIndex(
                name: "IX_saml_signing_keys_TenantId_Status",
                table: "saml_signing_keys",
                columns: new[] { "TenantId", "Status" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Back to one key per tenant: the one that signs.
            migrationBuilder.Sql("DELETE FROM saml_signing_keys WHERE \"Status\" <> 'current';");
            migrationBuilder.DropIndex(
                name: "IX_saml_signing_keys_TenantId_Status",
                table: "saml_signing_keys");

            migrationBuilder.DropColumn(
                name: "Status",
                table: "saml_signing_keys");

            migrationBuilder.CreateIndex(
                name: "IX_saml_signing_keys_TenantId",
                table: "saml_signing_keys",
                column: "TenantId",
                unique: true);
        }
    }
}
