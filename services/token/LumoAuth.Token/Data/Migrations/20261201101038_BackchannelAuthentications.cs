using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Token.Data.Migrations
{
    /// <inheritdoc />
    public partial class BackchannelAuthentications : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "backchannel_authentications",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<Guid>(type: "uuid", nullable: false),
                    auth_req_id_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    client_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    user_id = table.Column<Guid>(type: "uuid", nullable: false),
                    scopes = table.Column<string>(type: "character varying(4000)", maxLength: 4000, nullable: false),
                    binding_message = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    user_code_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    failed_user_code_attempts = table.Column<int>(type: "integer", nullable: false),
                    delivery_mode = table.Column<string>(type: "character varying(10)", maxLength: 10, nullable: false),
                    protected_ping = table.Column<string>(type: "text", nullable: true),
                    status = table.Column<string>(type: "character varying(10)", maxLength: 10, nullable: false),
                    authorization_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    session_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    auth_time = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    methods = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    interval_seconds = table.Column<int>(type: "integer", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    decided_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    last_polled_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_backchannel_authentications", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_backchannel_authentications_tenant_id_auth_req_id_hash",
                table: "backchannel_authentications",
                columns: new[] { "tenant_id", "auth_req_id_hash" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_backchannel_authentications_tenant_id_expires_at",
                table: "backchannel_authentications",
                columns: new[] { "tenant_id", "expires_at" });

            migrationBuilder.CreateIndex(
                name: "IX_backchannel_authentications_tenant_id_user_id_status",
                table: "backchannel_authentications",
                columns: new[] { "tenant_id", "user_id", "status" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "backchannel_authentications");
        }
    }
}
