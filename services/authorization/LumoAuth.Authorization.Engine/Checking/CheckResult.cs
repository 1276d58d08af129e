namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>
/// The four ways a check can end. <see cref="Cycle"/> means every path that could grant access looped
/// back on itself; it denies, but is kept apart because it depends on the path taken and is never cached.
/// </summary>
public enum CheckOutcome
{
    Denied,
    Allowed,
    Cycle,
    Error,
}

/// <summary>Why a check (or list) failed instead of answering.</summary>
public enum CheckErrorCode
{
    /// <summary>The request names a type, relation or subject the model doesn't know, or is malformed.</summary>
    InvalidRequest,

    /// <summary>A contextual tuple doesn't fit the model's type restrictions.</summary>
    InvalidContextualTuple,

    /// <summary>The depth limit or the dispatch budget was exhausted.</summary>
    ResolutionTooComplex,

    /// <summary>A condition could not be evaluated (missing or ill-typed parameter, non-bool result).</summary>
    ConditionFailed,
}

public sealed record CheckError(CheckErrorCode Code, string Message);

/// <summary>
/// The answer to one check. When allowed, <see cref="Path"/> lists the tuples that granted access, from the
/// object down to the subject (empty for a subject that is the object's own userset).
/// </summary>
public sealed record CheckResult
{
    private CheckResult(CheckOutcome outcome, IReadOnlyList<RelationshipTuple> path, CheckError? error, bool cycleSeen)
    {
        Outcome = outcome;
        Path = path;
        Error = error;
        CycleSeen = cycleSeen;
    }

    public static CheckResult Denied { get; } = new(CheckOutcome.Denied, [], null, false);

    public static CheckResult CycleDetected { get; } = new(CheckOutcome.Cycle, [], null, true);

    public CheckOutcome Outcome { get; }

    public bool IsAllowed => Outcome == CheckOutcome.Allowed;

    public IReadOnlyList<RelationshipTuple> Path { get; }

    public CheckError? Error { get; }

    /// <summary>Whether any branch behind this answer stopped on a cycle; such answers depend on the path and are not cached.</summary>
    public bool CycleSeen { get; }

    public static CheckResult Allowed(IReadOnlyList<RelationshipTuple> path) => new(CheckOutcome.Allowed, path, null, false);

    public static CheckResult Failed(CheckErrorCode code, string message) => new(CheckOutcome.Error, [], new CheckError(code, message), false);

    internal CheckResult WithCycleSeen(bool cycleSeen) =>
        cycleSeen == CycleSeen ? this : new CheckResult(Outcome, Path, Error, cycleSeen);

    internal CheckResult Through(RelationshipTuple tuple) =>
        Outcome == CheckOutcome.Allowed ? new CheckResult(Outcome, [tuple, .. Path], Error, CycleSeen) : this;
}
