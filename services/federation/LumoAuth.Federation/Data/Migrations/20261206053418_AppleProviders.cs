using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Federation.Data.Migrations
{
    /// <inheritdoc />
    public partial class AppleProviders : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Apple",
                table: "identity_providers",
                type: "jsonb",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Apple",
                table: "identity_providers");
        }
    }
}
