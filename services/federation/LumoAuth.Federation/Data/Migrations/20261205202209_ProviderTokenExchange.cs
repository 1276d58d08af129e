using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Federation.Data.Migrations
{
    /// <inheritdoc />
    public partial class ProviderTokenExchange : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "AllowTokenExchange",
                table: "identity_providers",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "AllowTokenExchange",
                table: "identity_providers");
        }
    }
}
