using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <inheritdoc />
    public partial class SharedKeyRingColumns : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.RenameColumn(
                name: "Xml",
                table: "data_protection_keys",
                newName: "xml");

            migrationBuilder.RenameColumn(
                name: "Id",
                table: "data_protection_keys",
                newName: "id");

            migrationBuilder.RenameColumn(
                name: "FriendlyName",
                table: "data_protection_keys",
                newName: "friendly_name");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.RenameColumn(
                name: "xml",
                table: "data_protection_keys",
                newName: "Xml");

            migrationBuilder.RenameColumn(
                name: "id",
                table: "data_protection_keys",
                newName: "Id");

            migrationBuilder.RenameColumn(
                name: "friendly_name",
                table: "data_protection_keys",
                newName: "FriendlyName");
        }
    }
}
