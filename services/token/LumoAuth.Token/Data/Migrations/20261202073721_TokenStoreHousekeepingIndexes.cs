using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Token.Data.Migrations
{
    /// <inheritdoc />
    public partial class TokenStoreHousekeepingIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_trusted_devices_expires_at",
                table: "trusted_devices",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "IX_sessions_expires_at",
                table: "sessions",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "IX_oidc_tokens_ExpirationDate",
                table: "oidc_tokens",
                column: "ExpirationDate");

            migrationBuilder.CreateIndex(
                name: "IX_oidc_authorizations_CreationDate",
                table: "oidc_authorizations",
                column: "CreationDate");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_trusted_devices_expires_at",
                table: "trusted_devices");

            migrationBuilder.DropIndex(
                name: "IX_sessions_expires_at",
                table: "sessions");

            migrationBuilder.DropIndex(
                name: "IX_oidc_tokens_ExpirationDate",
                table: "oidc_tokens");

            migrationBuilder.DropIndex(
                name: "IX_oidc_authorizations_CreationDate",
                table: "oidc_authorizations");
        }
    }
}
