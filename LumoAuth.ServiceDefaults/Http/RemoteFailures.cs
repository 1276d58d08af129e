using System.Text.Json;

namespace LumoAuth.ServiceDefaults.Http;

/// <summary>How every call to another service or site tells a failure of the other side from its own caller giving up.</summary>
public static class RemoteFailures
{
    /// <summary>
    /// True when <paramref name="exception"/>, thrown by a call made on behalf of <paramref name="callerToken"/>, means the
    /// other side is unreachable, failing, too slow (a timeout of the call's own) or answered what cannot be read: the
    /// caller's fallback applies (503, roles left out, a cached value). False when the caller itself was cancelled (an
    /// aborted request, a stopping host), which must propagate, and for anything else, which is a defect of ours.
    /// </summary>
    public static bool IsRemoteFailure(this Exception exception, CancellationToken callerToken) =>
        !callerToken.IsCancellationRequested
        && exception is HttpRequestException or OperationCanceledException or JsonException or IOException;
}
