using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Agents.Data.Migrations
{
    /// <inheritdoc />
    public partial class AAuth : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "aauth_agents",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TenantId = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Description = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: true),
                    Identifier = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: false),
                    Jwks = table.Column<string>(type: "jsonb", nullable: true),
                    JwksUri = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    RedirectUris = table.Column<List<string>>(type: "text[]", nullable: false),
                    AllowedScopes = table.Column<List<string>>(type: "text[]", nullable: false),
                    UserAuthorizationEnabled = table.Column<bool>(type: "boolean", nullable: false),
                    DelegationEnabled = table.Column<bool>(type: "boolean", nullable: false),
                    TokenExchangeEnabled = table.Column<bool>(type: "boolean", nullable: false),
                    IsActive = table.Column<bool>(type: "boolean", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_aauth_agents", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "aauth_grants",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TenantId = table.Column<Guid>(type: "uuid", nullable: false),
                    AgentId = table.Column<Guid>(type: "uuid", nullable: false),
                    ResourceId = table.Column<Guid>(type: "uuid", nullable: false),
                    Scope = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    AuthLevel = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    KeyThumbprint = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Actor = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    UserId = table.Column<Guid>(type: "uuid", nullable: true),
                    State = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    RequestTokenHash = table.Column<byte[]>(type: "bytea", nullable: true),
                    RedirectUri = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true),
                    ClientState = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    CodeHash = table.Column<byte[]>(type: "bytea", nullable: true),
                    PendingUntil = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    RefreshTokenHash = table.Column<byte[]>(type: "bytea", nullable: true),
                    PreviousRefreshTokenHash = table.Column<byte[]>(type: "bytea", nullable: true),
                    RefreshExpiresAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_aauth_grants", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "aauth_resources",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TenantId = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Description = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: true),
                    Identifier = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: false),
                    Jwks = table.Column<string>(type: "jsonb", nullable: true),
                    JwksUri = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    SupportedScopes = table.Column<List<string>>(type: "text[]", nullable: false),
                    AuthLevel = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_aauth_resources", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_aauth_agents_TenantId_Identifier",
                table: "aauth_agents",
                columns: new[] { "TenantId", "Identifier" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_aauth_grants_PreviousRefreshTokenHash",
                table: "aauth_grants",
                column: "PreviousRefreshTokenHash",
                filter: "\"PreviousRefreshTokenHash\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_aauth_grants_RefreshTokenHash",
                table: "aauth_grants",
                column: "RefreshTokenHash",
                unique: true,
                filter: "\"RefreshTokenHash\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_aauth_grants_RequestTokenHash",
                table: "aauth_grants",
                column: "RequestTokenHash",
                unique: true,
                filter: "\"RequestTokenHash\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_aauth_grants_TenantId_AgentId",
                table: "aauth_grants",
                columns: new[] { "TenantId", "AgentId" });

            migrationBuilder.CreateIndex(
                name: "IX_aauth_grants_TenantId_ResourceId",
                table: "aauth_grants",
                columns: new[] { "TenantId", "ResourceId" });

            migrationBuilder.CreateIndex(
                name: "IX_aauth_resources_TenantId_Identifier",
                table: "aauth_resources",
                columns: new[] { "TenantId", "Identifier" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "aauth_agents");

            migrationBuilder.DropTable(
                name: "aauth_grants");

            migrationBuilder.DropTable(
                name: "aauth_resources");
        }
    }
}
