using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <inheritdoc />
    public partial class UsernamesFoundByLowerCase : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Usernames are unique in any letter case; the check that keeps them so looks them up by lower("Username").
            migrationBuilder.Sql("""CREATE INDEX "IX_users_TenantId_lower_Username" ON users ("TenantId", lower("Username")) WHERE "Username" IS NOT NULL;""");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""DROP INDEX "IX_users_TenantId_lower_Username";""");
        }
    }
}
