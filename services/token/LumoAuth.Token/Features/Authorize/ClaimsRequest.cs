using System.Text.Json;
using LumoAuth.Token.Protocol;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Authorize;

/// <summary>
/// What an authorization request's <c>claims</c> parameter (OIDC Core §5.5) asks of the ID token that this server acts on:
/// the <c>acr</c> values, essential or voluntary (§5.5.1.1), and a <c>sub</c> value, which only that user may answer
/// (§5.5.1). Individual claims are released as their scopes are: consent here is given per scope, and OIDC lets a
/// provider leave out a requested claim, essential or not, without an error.
/// </summary>
/// <param name="AcrValues">The <c>acr</c> values asked for, in order of preference (null when <c>acr</c> is not named with any).</param>
/// <param name="AcrEssential">Whether the <c>acr</c> values must be met: the request fails when none can be.</param>
/// <param name="Subject">The only subject the ID token may name.</param>
public sealed record ClaimsRequest(IReadOnlyList<string>? AcrValues, bool AcrEssential, string? Subject)
{
    public static readonly ClaimsRequest None = new(null, false, null);

    /// <summary>Above this many characters of JSON the parameter is refused (a few hundred is usual).</summary>
    public const int MaxLength = 8 * 1024;

    private const string IdTokenMember = "id_token";
    private const string UserInfoMember = "userinfo";

    /// <summary>
    /// The request's <c>claims</c> parameter: JSON text on a URL or form, a JSON object inside a request object. A shape
    /// OIDC does not define is a problem (<c>invalid_request</c>); members it does not define are ignored.
    /// </summary>
    public static (ClaimsRequest Request, string? Problem) Of(OpenIddictRequest request)
    {
        var (root, problem) = JsonParameters.Read(request, Parameters.Claims, MaxLength);
        return problem is not null ? (None, problem)
            : root is not { } value ? (None, null)
            : value.ValueKind == JsonValueKind.Object ? Read(value)
            : (None, "The claims parameter must be a JSON object.");
    }

    private static (ClaimsRequest, string?) Read(JsonElement root)
    {
        IReadOnlyList<string>? acrValues = null;
        var acrEssential = false;
        string? subject = null;
        foreach (var member in root.EnumerateObject())
        {
            if (member.Name is not (IdTokenMember or UserInfoMember))
            {
                continue;
            }

            if (member.Value.ValueKind != JsonValueKind.Object)
            {
                return (None, $"The claims parameter's '{member.Name}' must be an object of claims.");
            }

            foreach (var claim in member.Value.EnumerateObject())
            {
                if (Problem(member.Name, claim) is { } problem)
                {
                    return (None, problem);
                }

                // acr and sub values bind the ID token only (§5.5.1, §5.5.1.1).
                if (member.Name != IdTokenMember || claim.Value.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                if (claim.Name == Claims.AuthenticationContextReference)
                {
                    acrValues = ValuesOf(claim.Value);
                    acrEssential = claim.Value.TryGetProperty("essential", out var essential) && essential.ValueKind == JsonValueKind.True;
                }
                else if (claim.Name == Claims.Subject && claim.Value.TryGetProperty("value", out var value))
                {
                    subject = value.GetString();
                }
            }
        }

        return (new ClaimsRequest(acrValues, acrEssential, subject), null);
    }

    // §5.5.1: each claim is null (asked for in the default way) or an object of essential (a boolean), value and values
    // (an array); acr's and sub's values are strings, as their claims are.
    private static string? Problem(string member, JsonProperty claim)
    {
        var where = $"The claims parameter's '{member}.{claim.Name}'";
        if (claim.Value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (claim.Value.ValueKind != JsonValueKind.Object)
        {
            return $"{where} must be null or an object.";
        }

        var textual = claim.Name is Claims.AuthenticationContextReference or Claims.Subject;
        foreach (var property in claim.Value.EnumerateObject())
        {
            var problem = property.Name switch
            {
                "essential" when property.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False) => "essential must be true or false",
                "value" when textual && property.Value.ValueKind != JsonValueKind.String => "value must be a string",
                "values" when property.Value.ValueKind != JsonValueKind.Array => "values must be an array",
                "values" when textual && property.Value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.String) => "values must be strings",
                _ => null,
            };
            if (problem is not null)
            {
                return $"{where}: {problem}.";
            }
        }

        return null;
    }

    // value names one, values several in order of preference; both together count as one list.
    private static List<string>? ValuesOf(JsonElement claim)
    {
        var values = new List<string>();
        if (claim.TryGetProperty("value", out var value))
        {
            values.Add(value.GetString()!);
        }

        if (claim.TryGetProperty("values", out var many))
        {
            values.AddRange(many.EnumerateArray().Select(v => v.GetString()!));
        }

        return values.Count == 0 ? null : values;
    }

    /// <summary>
    /// Refuses a malformed <c>claims</c> parameter before anything else is done with the request: at the authorization
    /// endpoint the client hears of it at its redirect URI, at <c>/oauth/par</c> in the response (RFC 9126 §2.3).
    /// </summary>
    public sealed class Check : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>, IOpenIddictServerHandler<ValidatePushedAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor AuthorizationDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseSingletonHandler<Check>()
                .SetOrder(int.MaxValue - 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public static OpenIddictServerHandlerDescriptor PushedDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidatePushedAuthorizationRequestContext>()
                .UseSingletonHandler<Check>()
                .SetOrder(int.MaxValue - 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateAuthorizationRequestContext context) => Reject(context, context.Request);

        public ValueTask HandleAsync(ValidatePushedAuthorizationRequestContext context) => Reject(context, context.Request);

        private static ValueTask Reject(BaseValidatingContext context, OpenIddictRequest request)
        {
            if (Of(request).Problem is { } problem)
            {
                context.Reject(Errors.InvalidRequest, problem);
            }

            return ValueTask.CompletedTask;
        }
    }
}
