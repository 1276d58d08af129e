using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Agents.Data.Migrations
{
    /// <inheritdoc />
    public partial class AgentUsageBudgets : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<List<string>>(
                name: "AllowedModels",
                table: "agents",
                type: "text[]",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "MaxCostPerMonthUsd",
                table: "agents",
                type: "numeric(12,2)",
                precision: 12,
                scale: 2,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "MaxTokensPerDay",
                table: "agents",
                type: "bigint",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "AllowedModels",
                table: "agents");

            migrationBuilder.DropColumn(
                name: "MaxCostPerMonthUsd",
                table: "agents");

            migrationBuilder.DropColumn(
                name: "MaxTokensPerDay",
                table: "agents");
        }
    }
}
