using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Agents.Data.Migrations
{
    /// <inheritdoc />
    public partial class JitSubtasks : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "ParentTaskId",
                table: "jit_tasks",
                type: "uuid",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_jit_tasks_ParentTaskId",
                table: "jit_tasks",
                column: "ParentTaskId",
                filter: "\"ParentTaskId\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_jit_tasks_ParentTaskId",
                table: "jit_tasks");

            migrationBuilder.DropColumn(
                name: "ParentTaskId",
                table: "jit_tasks");
        }
    }
}
