using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <summary>
    /// Audit entries of webhooks created or disabled before their events carried only the URL's origin keep the whole
    /// URL, whose path or query may hold a receiver's token, and so do other webhooks' deliveries of those events (which a
    /// retry or a replay would send again): cut them to scheme, host and port, as new ones are. A value not read as a URL
    /// becomes empty rather than kept. Data only: the model does not change.
    /// </summary>
    [DbContext(typeof(AdminDbContext))]
    [Migration("20261204170000_WebhookAuditUrlOrigins")]
    public partial class WebhookAuditUrlOrigins : Migration
    {
        /// <summary>Also run by the test that shows what it leaves of a URL.</summary>
        public const string Sql = """
            UPDATE audit_logs
            SET "Metadata" = jsonb_set("Metadata", ARRAY['url'], to_jsonb(COALESCE(regexp_replace(regexp_replace(lower(
                    substring("Metadata"->>'url' FROM '^[[:space:]]*([A-Za-z][A-Za-z0-9+.-]*://)')
                    || substring("Metadata"->>'url' FROM '^[[:space:]]*[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#@[:space:]]*)')),
                    '^(https://.*):443$', '\1'), '^(http://.*):80$', '\1'), '')))
            WHERE "Action" IN ('webhook_created', 'webhook_disabled') AND jsonb_typeof("Metadata"->'url') = 'string';

            UPDATE webhook_deliveries
            SET "Payload" = jsonb_set("Payload"::jsonb, ARRAY['data', 'url'], to_jsonb(COALESCE(regexp_replace(regexp_replace(lower(
                    substring(("Payload"::jsonb)->'data'->>'url' FROM '^[[:space:]]*([A-Za-z][A-Za-z0-9+.-]*://)')
                    || substring(("Payload"::jsonb)->'data'->>'url' FROM '^[[:space:]]*[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#@[:space:]]*)')),
                    '^(https://.*):443$', '\1'), '^(http://.*):80$', '\1'), '')))::text
            WHERE "EventType" IN ('webhook.created', 'webhook.disabled') AND jsonb_typeof(("Payload"::jsonb)->'data'->'url') = 'string';
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
