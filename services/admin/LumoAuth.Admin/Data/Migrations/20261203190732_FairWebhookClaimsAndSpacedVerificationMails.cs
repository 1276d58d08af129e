using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace LumoAuth.Admin.Data.Migrations
{
    /// <inheritdoc />
    public partial class FairWebhookClaimsAndSpacedVerificationMails : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_webhook_deliveries_NextAttemptAt",
                table: "webhook_deliveries");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "EmailVerificationRequestedAt",
                table: "users",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_webhook_deliveries_LockedUntil",
                table: "webhook_deliveries",
                column: "LockedUntil",
                filter: "\"Status\" = 'pending' AND \"LockedUntil\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_webhook_deliveries_WebhookId_NextAttemptAt",
                table: "webhook_deliveries",
                columns: new[] { "WebhookId", "NextAttemptAt" },
                filter: "\"Status\" = 'pending'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_webhook_deliveries_LockedUntil",
                table: "webhook_deliveries");

            migrationBuilder.DropIndex(
                name: "IX_webhook_deliveries_WebhookId_NextAttemptAt",
                table: "webhook_deliveries");

            migrationBuilder.DropColumn(
                name: "EmailVerificationRequestedAt",
                table: "users");

            migrationBuilder.CreateIndex(
                name: "IX_webhook_deliveries_NextAttemptAt",
                table: "webhook_deliveries",
                column: "NextAttemptAt",
                filter: "\"Status\" = 'pending'");
        }
    }
}
