using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Token.Data.Migrations
{
    /// <summary>
    /// Clients that may use the authorization endpoint may now push their requests first (RFC 9126): existing clients
    /// get the endpoint permission new ones are created with (ClientPermissions).
    /// </summary>
    public partial class PushedAuthorizationPermission : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                UPDATE oidc_applications
                SET "Permissions" = ("Permissions"::jsonb || '["ept:pushed_authorization"]'::jsonb)::text
                WHERE "Permissions" IS NOT NULL
                  AND "Permissions"::jsonb ? 'ept:authorization'
                  AND NOT "Permissions"::jsonb ? 'ept:pushed_authorization';
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                UPDATE oidc_applications
                SET "Permissions" = ("Permissions"::jsonb - 'ept:pushed_authorization')::text
                WHERE "Permissions" IS NOT NULL AND "Permissions"::jsonb ? 'ept:pushed_authorization';
                """);
        }
    }
}
