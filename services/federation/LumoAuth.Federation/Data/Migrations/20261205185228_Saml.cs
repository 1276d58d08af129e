using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Federation.Data.Migrations
{
    /// <inheritdoc />
    public partial class Saml : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Saml",
                table: "identity_providers",
                type: "jsonb",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "saml_service_providers",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TenantId = table.Column<Guid>(type: "uuid", nullable: false),
                    Name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    EntityId = table.Column<string>(type: "character varying(1024)", maxLength: 1024, nullable: false),
                    AcsUrl = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: false),
                    SloUrl = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true),
                    NameIdFormat = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    Certificate = table.Column<byte[]>(type: "bytea", nullable: true),
                    RequireSignedRequests = table.Column<bool>(type: "boolean", nullable: false),
                    SignResponse = table.Column<bool>(type: "boolean", nullable: false),
                    SignAssertion = table.Column<bool>(type: "boolean", nullable: false),
                    EncryptAssertions = table.Column<bool>(type: "boolean", nullable: false),
                    AttributeMappings = table.Column<string>(type: "jsonb", nullable: false),
                    IsEnabled = table.Column<bool>(type: "boolean", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_saml_service_providers", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "saml_signing_keys",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TenantId = table.Column<Guid>(type: "uuid", nullable: false),
                    Certificate = table.Column<byte[]>(type: "bytea", nullable: false),
                    ProtectedPrivateKey = table.Column<string>(type: "text", nullable: false),
                    NotAfter = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_saml_signing_keys", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_saml_service_providers_TenantId_EntityId",
                table: "saml_service_providers",
                columns: new[] { "TenantId", "EntityId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_saml_service_providers_TenantId_Name",
                table: "saml_service_providers",
                columns: new[] { "TenantId", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_saml_signing_keys_TenantId",
                table: "saml_signing_keys",
                column: "TenantId",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "saml_service_providers");

            migrationBuilder.DropTable(
                name: "saml_signing_keys");

            migrationBuilder.DropColumn(
                name: "Saml",
                table: "identity_providers");
        }
    }
}
