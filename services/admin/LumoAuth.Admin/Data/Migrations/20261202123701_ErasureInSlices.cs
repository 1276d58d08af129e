using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <inheritdoc />
    public partial class ErasureInSlices : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Email",
                table: "erased_subjects",
                type: "character varying(320)",
                maxLength: 320,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "LastPass",
                table: "erased_subjects",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "PseudonymisedFrom",
                table: "erased_subjects",
                type: "timestamp with time zone",
                nullable: false,
                defaultValue: new DateTimeOffset(new DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)));

            // Erasures recorded before this change pseudonymised the history in their request: only late entries remain.
            migrationBuilder.Sql("UPDATE erased_subjects SET \"PseudonymisedFrom\" = \"ErasedAt\" - interval '1 hour'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Email",
                table: "erased_subjects");

            migrationBuilder.DropColumn(
                name: "LastPass",
                table: "erased_subjects");

            migrationBuilder.DropColumn(
                name: "PseudonymisedFrom",
                table: "erased_subjects");
        }
    }
}
