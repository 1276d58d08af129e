using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <summary>
    /// Audit entries of webhooks created or disabled before their events carried only the URL's origin keep the whole
    /// URL, whose path or query may hold a receiver's token: cut them to scheme, host and port, as new entries are.
    /// Data only: the model does not change.
    /// </summary>
    [DbContext(typeof(AdminDbContext))]
    [Migration("20261204170000_WebhookAuditUrlOrigins")]
    public partial class WebhookAuditUrlOrigins : Migration
    {
        /// <summary>Also run by the test that shows what it leaves of a URL.</summary>
        public const string Sql = """
            UPDATE audit_logs
            SET "Metadata" = jsonb_set("Metadata", ARRAY['url'], to_jsonb(
                regexp_replace(regexp_replace(
                    lower(regexp_replace("Metadata"->>'url', '^([A-Za-z][A-Za-z0-9+.-]*://)(?:[^/?#@]*@)?([^/?#@]*).*$', '\1\2')),
                    '^(https://.*):443$', '\1'), '^(http://.*):80$', '\1')))
            WHERE "Action" IN ('webhook_created', 'webhook_disabled')
              AND jsonb_typeof("Metadata"->'url') = 'string'
              AND "Metadata"->>'url' ~ '^[A-Za-z][A-Za-z0-9+.-]*://';
            """;

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(Sql);

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // What was cut away is gone.
        }
    }
}
