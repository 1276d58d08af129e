using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <inheritdoc />
    public partial class UserSearchTrigrams : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AlterDatabase()
                .Annotation("Npgsql:PostgresExtension:pg_trgm", ",,");

            // Built without blocking writes to users (every sign-in writes its row): CONCURRENTLY, outside the migration's transaction.
            migrationBuilder.Sql("""
                CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_search ON users USING gin
                    ("Email" gin_trgm_ops, "Name" gin_trgm_ops, "Username" gin_trgm_ops, "GivenName" gin_trgm_ops, "FamilyName" gin_trgm_ops);
                """, suppressTransaction: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_users_search;", suppressTransaction: true);

            migrationBuilder.AlterDatabase()
                .OldAnnotation("Npgsql:PostgresExtension:pg_trgm", ",,");
        }
    }
}
