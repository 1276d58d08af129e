namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>The bounds every request runs under, so a pathological model or data set errors instead of hanging.</summary>
public sealed record CheckLimits
{
    public static CheckLimits Default { get; } = new();

    /// <summary>Dispatches allowed along one path (OpenFGA's resolve depth, 25 by default).</summary>
    public int MaxDepth { get; init; } = 25;

    /// <summary>Dispatches allowed for one root request, across all its branches.</summary>
    public int MaxDispatches { get; init; } = 20_000;

    /// <summary>Child checks of one union / intersection / set of usersets evaluated at the same time.</summary>
    public int MaxConcurrency { get; init; } = 4;

    /// <summary>Results a list operation returns before it stops and says it is incomplete.</summary>
    public int MaxListResults { get; init; } = 1_000;

    /// <summary>Candidates a list operation will examine before it stops and says it is incomplete.</summary>
    public int MaxListCandidates { get; init; } = 10_000;
}
