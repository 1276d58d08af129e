using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Token.Data.Migrations
{
    /// <inheritdoc />
    public partial class SessionTenantSlug : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "tenant_slug",
                table: "sessions",
                type: "character varying(100)",
                maxLength: 100,
                nullable: false,
                defaultValue: "");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "tenant_slug",
                table: "sessions");
        }
    }
}
