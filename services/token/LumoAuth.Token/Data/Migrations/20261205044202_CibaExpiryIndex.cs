using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Token.Data.Migrations
{
    /// <inheritdoc />
    public partial class CibaExpiryIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_backchannel_authentications_tenant_id_expires_at",
                table: "backchannel_authentications");

            migrationBuilder.CreateIndex(
                name: "IX_backchannel_authentications_expires_at",
                table: "backchannel_authentications",
                column: "expires_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_backchannel_authentications_expires_at",
                table: "backchannel_authentications");

            migrationBuilder.CreateIndex(
                name: "IX_backchannel_authentications_tenant_id_expires_at",
                table: "backchannel_authentications",
                columns: new[] { "tenant_id", "expires_at" });
        }
    }
}
