using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace LumoAuth.ServiceDefaults.Hosting;

/// <summary>
/// A setting's <see cref="TimeSpan"/> must lie within bounds. Used instead of <c>[Range(typeof(TimeSpan), …)]</c>, whose
/// attribute parses its bounds on first use without a lock: two hosts validating options at once (tests start several
/// in one process) can see the half-converted bounds and throw InvalidCastException (dotnet/runtime#1143). These bounds
/// are parsed once, in the constructor.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class TimeSpanRangeAttribute(string minimum, string maximum) : ValidationAttribute
{
    public TimeSpan Minimum { get; } = TimeSpan.Parse(minimum, CultureInfo.InvariantCulture);

    public TimeSpan Maximum { get; } = TimeSpan.Parse(maximum, CultureInfo.InvariantCulture);

    public override bool IsValid(object? value) => value is not TimeSpan span || (span >= Minimum && span <= Maximum);

    public override string FormatErrorMessage(string name) =>
        string.Format(CultureInfo.InvariantCulture, "The field {0} must be between {1} and {2}.", name, Minimum, Maximum);
}
