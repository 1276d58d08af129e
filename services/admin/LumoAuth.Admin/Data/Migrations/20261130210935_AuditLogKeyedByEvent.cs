using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <summary>
    /// An audit entry's key becomes the id of the event it records (it was a key of its own plus a unique event id):
    /// one index fewer to maintain for every row, and thousands of rows a second arrive under token load.
    /// </summary>
    public partial class AuditLogKeyedByEvent : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""UPDATE audit_logs SET "Id" = "EventId";""");

            migrationBuilder.DropIndex(
                name: "IX_audit_logs_EventId",
                table: "audit_logs");

            migrationBuilder.DropColumn(
                name: "EventId",
                table: "audit_logs");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "EventId",
                table: "audit_logs",
                type: "uuid",
                nullable: false,
                defaultValue: new Guid("00000000-0000-0000-0000-000000000000"));

            migrationBuilder.Sql("""UPDATE audit_logs SET "EventId" = "Id";""");

            migrationBuilder.CreateIndex(
                name: "IX_audit_logs_EventId",
                table: "audit_logs",
                column: "EventId",
                unique: true);
        }
    }
}
