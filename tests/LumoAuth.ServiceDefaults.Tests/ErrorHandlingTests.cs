using System.Text.Json;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OpenIddict.Abstractions;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>Races and input the endpoints did not foresee answer in the error shape, never as a 500.</summary>
public sealed class ErrorHandlingTests
{
    private static async Task<(int Status, JsonElement Body)> HandleAsync(Exception exception, string path = "/t/acme/api/v1/admin/clients/x")
    {
        var http = new DefaultHttpContext();
        http.Request.Path = path;
        http.Response.Body = new MemoryStream();
        Assert.True(await new EnvelopeExceptionHandler(NullLogger<EnvelopeExceptionHandler>.Instance).TryHandleAsync(http, exception, CancellationToken.None));
        http.Response.Body.Position = 0;
        return (http.Response.StatusCode, JsonDocument.Parse(http.Response.Body).RootElement.Clone());
    }

    public static TheoryData<Exception> ChangedSinceRead => new()
    {
        new DbUpdateConcurrencyException("0 rows affected"),
        new OpenIddictExceptions.ConcurrencyException("the entity was changed"),
        new DbUpdateException("save failed", new PostgresException("deadlock detected", "ERROR", "ERROR", "40P01")),
    };

    [Theory]
    [MemberData(nameof(ChangedSinceRead))]
    public async Task AConcurrentChange_Answers409(Exception exception)
    {
        var (status, body) = await HandleAsync(exception);
        Assert.Equal(409, status);
        Assert.Contains("retry", body.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AValueLongerThanItsColumn_Answers400_InTheOAuthShapeOnOAuthPaths()
    {
        var tooLong = new DbUpdateException("save failed", new PostgresException("value too long for type character varying(4000)", "ERROR", "ERROR", "22001"));

        var (status, body) = await HandleAsync(tooLong);
        Assert.Equal(400, status);
        Assert.DoesNotContain("varying", body.GetRawText(), StringComparison.Ordinal);

        var (oauthStatus, oauth) = await HandleAsync(tooLong, "/t/acme/api/v1/oauth/bc-authorize");
        Assert.Equal(400, oauthStatus);
        Assert.Equal("invalid_request", oauth.GetProperty("error").GetString());
    }

    [Fact]
    public async Task AnUnreadableJsonString_Answers400()
    {
        // A lone surrogate escape passes a syntax check but cannot be read as a string, nor stored as jsonb.
        var unreadable = Assert.Throws<InvalidOperationException>(() => JsonDocument.Parse("\"\\ud800\"").RootElement.GetString());
        Assert.Equal(400, (await HandleAsync(unreadable)).Status);

        var refusedByPostgres = new DbUpdateException("save failed", new PostgresException("invalid input syntax for type json", "ERROR", "ERROR", "22P02"));
        Assert.Equal(400, (await HandleAsync(refusedByPostgres)).Status);

        // Our own misuse elsewhere stays a 500.
        Assert.Equal(500, (await HandleAsync(new InvalidOperationException("Sequence contains no elements"))).Status);
    }

    [Theory]
    [InlineData("23503")]
    [InlineData("23505")]
    public async Task ARowRemovedOrTakenMeanwhile_Answers409(string sqlState)
    {
        var raced = new DbUpdateException("save failed", new PostgresException("constraint", "ERROR", "ERROR", sqlState));
        Assert.Equal(409, (await HandleAsync(raced)).Status);
    }

    [Fact]
    public async Task AnythingElse_Is500_WithNothingInternal()
    {
        var (status, body) = await HandleAsync(new InvalidOperationException("secret internals"));
        Assert.Equal(500, status);
        Assert.DoesNotContain("secret", body.GetRawText(), StringComparison.Ordinal);
    }
}
