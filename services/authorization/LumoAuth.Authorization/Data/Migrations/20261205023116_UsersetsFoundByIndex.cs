using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Authorization.Data.Migrations
{
    /// <inheritdoc />
    public partial class UsersetsFoundByIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_tuples_usersets",
                table: "tuples",
                columns: new[] { "TenantId", "ObjectType", "ObjectId", "Relation" },
                filter: "\"SubjectRelation\" <> ''");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_tuples_usersets",
                table: "tuples");
        }
    }
}
