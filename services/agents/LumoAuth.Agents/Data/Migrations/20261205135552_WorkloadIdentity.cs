using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Agents.Data.Migrations
{
    /// <inheritdoc />
    public partial class WorkloadIdentity : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Workload",
                table: "agents",
                type: "jsonb",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "WorkloadIssuer",
                table: "agents",
                type: "character varying(500)",
                maxLength: 500,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "WorkloadSubject",
                table: "agents",
                type: "character varying(600)",
                maxLength: 600,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_agents_TenantId_WorkloadIssuer_WorkloadSubject",
                table: "agents",
                columns: new[] { "TenantId", "WorkloadIssuer", "WorkloadSubject" },
                unique: true,
                filter: "\"WorkloadIssuer\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_agents_TenantId_WorkloadIssuer_WorkloadSubject",
                table: "agents");

            migrationBuilder.DropColumn(
                name: "Workload",
                table: "agents");

            migrationBuilder.DropColumn(
                name: "WorkloadIssuer",
                table: "agents");

            migrationBuilder.DropColumn(
                name: "WorkloadSubject",
                table: "agents");
        }
    }
}
