using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Token.Data.Migrations
{
    /// <inheritdoc />
    public partial class GrantsAndTokensBySubject : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_oidc_tokens_TenantId",
                table: "oidc_tokens");

            migrationBuilder.DropIndex(
                name: "IX_oidc_authorizations_TenantId",
                table: "oidc_authorizations");

            migrationBuilder.CreateIndex(
                name: "IX_oidc_tokens_TenantId_Subject",
                table: "oidc_tokens",
                columns: new[] { "TenantId", "Subject" });

            migrationBuilder.CreateIndex(
                name: "IX_oidc_authorizations_TenantId_Subject",
                table: "oidc_authorizations",
                columns: new[] { "TenantId", "Subject" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_oidc_tokens_TenantId_Subject",
                table: "oidc_tokens");

            migrationBuilder.DropIndex(
                name: "IX_oidc_authorizations_TenantId_Subject",
                table: "oidc_authorizations");

            migrationBuilder.CreateIndex(
                name: "IX_oidc_tokens_TenantId",
                table: "oidc_tokens",
                column: "TenantId");

            migrationBuilder.CreateIndex(
                name: "IX_oidc_authorizations_TenantId",
                table: "oidc_authorizations",
                column: "TenantId");
        }
    }
}
