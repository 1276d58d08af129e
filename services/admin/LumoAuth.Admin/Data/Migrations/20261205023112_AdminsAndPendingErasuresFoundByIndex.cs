using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <inheritdoc />
    public partial class AdminsAndPendingErasuresFoundByIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_users_admins",
                table: "users",
                column: "TenantId",
                filter: "\"IsAdmin\" AND \"IsActive\" AND NOT \"Blocked\" AND \"SoftDeletedAt\" IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_erased_subjects_pending",
                table: "erased_subjects",
                column: "TenantId",
                filter: "\"UserId\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_users_admins",
                table: "users");

            migrationBuilder.DropIndex(
                name: "ix_erased_subjects_pending",
                table: "erased_subjects");
        }
    }
}
