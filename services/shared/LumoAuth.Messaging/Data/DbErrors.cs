using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LumoAuth.Messaging.Data;

public static class DbErrors
{
    /// <summary>A unique index refused the row: a concurrent duplicate, answered as 409 rather than 500.</summary>
    public static bool IsUniqueViolation(this DbUpdateException exception) =>
        exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };
}
