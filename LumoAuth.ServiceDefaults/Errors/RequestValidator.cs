using System.Net.Mail;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.ServiceDefaults.Errors;

/// <summary>Collects field problems and answers them as one 400 <c>validation_error</c> with <c>details</c> per field.</summary>
public sealed class RequestValidator
{
    private readonly Dictionary<string, List<string>> _problems = new(StringComparer.Ordinal);

    public bool IsValid => _problems.Count == 0;

    /// <summary>Each field with a problem, and its first problem (for answers that name one, such as RFC 7591's).</summary>
    public IEnumerable<(string Field, string Problem)> FirstProblems => _problems.Select(p => (p.Key, p.Value[0]));

    public RequestValidator Add(string field, string problem)
    {
        if (!_problems.TryGetValue(field, out var list))
        {
            _problems[field] = list = [];
        }

        list.Add(problem);
        return this;
    }

    public RequestValidator Required(string field, string? value, int maxLength = 200)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return Add(field, "is required");
        }

        return value.Length > maxLength ? Add(field, $"must be at most {maxLength} characters") : this;
    }

    public RequestValidator Optional(string field, string? value, int maxLength = 200) =>
        value is not null && value.Length > maxLength ? Add(field, $"must be at most {maxLength} characters") : this;

    public RequestValidator Email(string field, string? value, bool required = true)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return required ? Add(field, "is required") : this;
        }

        return IsEmail(value) ? this : Add(field, "must be a valid email address");
    }

    public RequestValidator Password(string field, string? value, int minLength = 8)
    {
        if (value is null)
        {
            return this;
        }

        if (value.Length < minLength)
        {
            Add(field, $"must be at least {minLength} characters");
        }

        // PBKDF2 cost grows with input length; an absurd password is refused before hashing.
        return value.Length > 256 ? Add(field, "must be at most 256 characters") : this;
    }

    public RequestValidator Check(bool condition, string field, string problem) => condition ? this : Add(field, problem);

    public IResult ToResult() => ApiErrors.Validation(_problems.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal));

    public static bool IsEmail(string value) =>
        value.Length <= 320
        && MailAddress.TryCreate(value, out var address)
        && string.Equals(address.Address, value, StringComparison.Ordinal)
        && address.Host.Contains('.', StringComparison.Ordinal);
}
