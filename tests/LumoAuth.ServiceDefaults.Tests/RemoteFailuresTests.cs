using System.Text.Json;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.ServiceDefaults.Tests;

public sealed class RemoteFailuresTests
{
    public static TheoryData<Exception> OtherSideFailed => new()
    {
        new HttpRequestException("connection refused"),
        new TaskCanceledException("the call's own timeout"),
        new OperationCanceledException(),
        new JsonException("half a body"),
        new IOException("connection reset mid-body"),
    };

    [Theory]
    [MemberData(nameof(OtherSideFailed))]
    public void AFailureOfTheOtherSide_IsRemote_WhileTheCallerStillWaits(Exception exception)
    {
        Assert.True(exception.IsRemoteFailure(CancellationToken.None));
        Assert.True(exception.IsRemoteFailure(new CancellationTokenSource().Token));
    }

    [Theory]
    [MemberData(nameof(OtherSideFailed))]
    public void NothingIsRemote_OnceTheCallerGaveUp(Exception exception)
    {
        using var caller = new CancellationTokenSource();
        caller.Cancel();
        Assert.False(exception.IsRemoteFailure(caller.Token));
    }

    [Fact]
    public void ADefectOfOurs_IsNotRemote()
    {
        Assert.False(new InvalidOperationException().IsRemoteFailure(CancellationToken.None));
        Assert.False(new NullReferenceException().IsRemoteFailure(CancellationToken.None));
    }
}
