using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <inheritdoc />
    public partial class LookupsByExternalId : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_users_TenantId_ExternalId",
                table: "users",
                columns: new[] { "TenantId", "ExternalId" },
                filter: "\"ExternalId\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_groups_TenantId_ExternalId",
                table: "groups",
                columns: new[] { "TenantId", "ExternalId" },
                filter: "\"ExternalId\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_users_TenantId_ExternalId",
                table: "users");

            migrationBuilder.DropIndex(
                name: "IX_groups_TenantId_ExternalId",
                table: "groups");
        }
    }
}
