using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Token.Data.Migrations
{
    /// <inheritdoc />
    public partial class InboxProcessedAtIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            LumoAuth.Messaging.Data.InboxIndexMigration.Create(migrationBuilder);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            LumoAuth.Messaging.Data.InboxIndexMigration.Drop(migrationBuilder);
        }
    }
}
