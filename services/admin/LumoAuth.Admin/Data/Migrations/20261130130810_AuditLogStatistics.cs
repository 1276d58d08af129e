using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <summary>
    /// The audit log is append-only and grows by thousands of rows a second under token load, so autovacuum analyzes
    /// it often. Columns no query filters or sorts on get no statistics: sampling and sorting the JSON metadata was
    /// most of each analyze, and the planner has no use for them.
    /// </summary>
    public partial class AuditLogStatistics : Migration
    {
        private static readonly string[] Unqueried = ["Metadata", "UserAgent", "CorrelationId", "EventId", "Id"];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            foreach (var column in Unqueried)
            {
                migrationBuilder.Sql($"""ALTER TABLE audit_logs ALTER COLUMN "{column}" SET STATISTICS 0;""");
            }
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            foreach (var column in Unqueried)
            {
                migrationBuilder.Sql($"""ALTER TABLE audit_logs ALTER COLUMN "{column}" SET STATISTICS -1;""");
            }
        }
    }
}
