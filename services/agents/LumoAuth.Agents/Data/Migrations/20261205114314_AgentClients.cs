using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Agents.Data.Migrations
{
    /// <inheritdoc />
    public partial class AgentClients : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ClientId",
                table: "agents",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "IdentityType",
                table: "agents",
                type: "character varying(32)",
                maxLength: 32,
                nullable: false,
                defaultValue: "api_key");

            migrationBuilder.CreateIndex(
                name: "IX_agents_TenantId_ClientId",
                table: "agents",
                columns: new[] { "TenantId", "ClientId" },
                unique: true,
                filter: "\"ClientId\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_agents_TenantId_ClientId",
                table: "agents");

            migrationBuilder.DropColumn(
                name: "ClientId",
                table: "agents");

            migrationBuilder.DropColumn(
                name: "IdentityType",
                table: "agents");
        }
    }
}
