using LumoAuth.Messaging.Inbox;
using LumoAuth.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace LumoAuth.Messaging.Data;

public static class MessagingModel
{
    /// <summary>Maps the outbox and inbox tables into a service's own DbContext (one database per service).</summary>
    public static ModelBuilder AddMessagingTables(this ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<OutboxMessage>(e =>
        {
            e.ToTable("outbox_messages");
            e.HasKey(m => m.Id);
            e.Property(m => m.Id).HasColumnName("id");
            e.Property(m => m.TenantId).HasColumnName("tenant_id");
            e.Property(m => m.MessageType).HasColumnName("message_type").HasMaxLength(300);
            e.Property(m => m.Body).HasColumnName("body").HasColumnType("jsonb");
            e.Property(m => m.CreatedAt).HasColumnName("created_at");
            e.Property(m => m.Attempts).HasColumnName("attempts");
            e.Property(m => m.NextAttemptAt).HasColumnName("next_attempt_at");
            e.Property(m => m.LastError).HasColumnName("last_error").HasMaxLength(2000);
            e.Property(m => m.ParkedAt).HasColumnName("parked_at");
            // The relay's query: due, unparked rows in creation order.
            e.HasIndex(m => m.NextAttemptAt).HasFilter("parked_at IS NULL").HasDatabaseName("ix_outbox_due");
        });
        modelBuilder.Entity<InboxMessage>(e =>
        {
            e.ToTable("inbox_messages");
            e.HasKey(m => new { m.Consumer, m.MessageId });
            e.Property(m => m.Consumer).HasColumnName("consumer").HasMaxLength(200);
            e.Property(m => m.MessageId).HasColumnName("message_id");
            e.Property(m => m.ProcessedAt).HasColumnName("processed_at");
            // The housekeeping's delete of rows past the retention (InboxHousekeeping).
            e.HasIndex(m => m.ProcessedAt).HasDatabaseName("ix_inbox_processed_at");
        });
        return modelBuilder;
    }

    /// <summary>
    /// Every <see cref="DateTimeOffset"/> is stored, and compared in queries, as UTC. Npgsql refuses a value with another offset
    /// for <c>timestamptz</c>, and callers send them (<c>?startDate=2026-01-01T00:00:00-05:00</c>, <c>"expiresAt": "…+02:00"</c>):
    /// converted here, the same instant is meant and no request fails for its offset.
    /// </summary>
    public static ModelConfigurationBuilder StoreTimestampsAsUtc(this ModelConfigurationBuilder configuration)
    {
        configuration.Properties<DateTimeOffset>().HaveConversion<UtcTimestamps>();
        return configuration;
    }

    private sealed class UtcTimestamps() : ValueConverter<DateTimeOffset, DateTimeOffset>(value => value.ToUniversalTime(), value => value);
}

/// <summary>
/// The inbox's <c>processed_at</c> index, built concurrently outside the migration's transaction: the table was never pruned
/// before, and a plain build would hold every consumer's inbox insert for as long as it takes. Each service's migration
/// <c>InboxProcessedAtIndex</c> calls these.
/// </summary>
public static class InboxIndexMigration
{
    public static void Create(MigrationBuilder migrationBuilder) =>
        migrationBuilder.Sql("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_inbox_processed_at ON inbox_messages (processed_at);", suppressTransaction: true);

    public static void Drop(MigrationBuilder migrationBuilder) =>
        migrationBuilder.Sql("DROP INDEX CONCURRENTLY IF EXISTS ix_inbox_processed_at;", suppressTransaction: true);
}
