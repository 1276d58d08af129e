namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>
/// One step of the check pipeline. Concerns are decorators (cache → local); the local resolver dispatches
/// sub-checks to the head of the chain, so recursive checks pass through the cache again.
/// </summary>
public interface ICheckResolver
{
    ValueTask<CheckResult> ResolveAsync(CheckRequest request, CancellationToken cancellationToken);
}
