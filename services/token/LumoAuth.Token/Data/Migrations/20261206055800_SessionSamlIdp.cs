using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Token.Data.Migrations
{
    /// <inheritdoc />
    public partial class SessionSamlIdp : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "SamlSession",
                table: "sessions",
                type: "text",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "SamlSession",
                table: "sessions");
        }
    }
}
