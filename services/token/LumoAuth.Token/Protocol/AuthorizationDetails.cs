using System.Security.Claims;
using System.Text.Json;
using LumoAuth.Contracts.Tokens;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Rich Authorization Requests (RFC 9396): a client names what it wants to do in <c>authorization_details</c> — a JSON
/// array of objects, each of a <c>type</c> the client is registered for (<c>authorizationDetailsTypes</c>) — at the
/// authorization endpoint (plain, pushed or signed), at the device authorization endpoint, in a CIBA request or, for itself,
/// with client credentials. The user sees each on the consent, device or CIBA approval page, every time; the access tokens
/// of the grant carry them in their <c>authorization_details</c> claim, and each token response names them. A code or
/// device code exchange or a refresh may name fewer, never others (§6.2).
/// </summary>
public static class AuthorizationDetails
{
    public const string Parameter = "authorization_details";

    /// <summary>The access token claim and token response member (RFC 9396 §7, §9).</summary>
    public const string Claim = "authorization_details";

    /// <summary>RFC 9396 §5: malformed, of a type the client may not ask for, or beyond the grant.</summary>
    public const string InvalidAuthorizationDetails = "invalid_authorization_details";

    /// <summary>The request's authorization details (null when it names none), or what is wrong with them.</summary>
    public static (JsonElement? Details, string? Problem) Of(OpenIddictRequest request, IReadOnlyList<string>? allowedTypes)
    {
        var (value, problem) = JsonParameters.Read(request, Parameter, AuthorizationDetailsShape.MaxJsonLength);
        if (problem is not null || value is not { } details)
        {
            return (null, problem);
        }

        if (details.ValueKind != JsonValueKind.Array || details.GetArrayLength() is 0 or > AuthorizationDetailsShape.MaxObjects)
        {
            return (null, $"The authorization_details parameter must be a JSON array of 1 to {AuthorizationDetailsShape.MaxObjects} objects.");
        }

        foreach (var item in details.EnumerateArray())
        {
            if (AuthorizationDetailsShape.ProblemOf(item) is { } shape)
            {
                return (null, "The authorization_details parameter " + shape + ".");
            }

            var type = item.GetProperty("type").GetString()!;
            if (allowedTypes?.Contains(type, StringComparer.Ordinal) != true)
            {
                return (null, $"The application may not ask for authorization details of the type '{type}'.");
            }
        }

        return (details, null);
    }

    /// <summary>The request's details once <see cref="Check"/> has let the request through (no second look at the client); null for none.</summary>
    public static JsonElement? Checked(OpenIddictRequest request) => JsonParameters.Read(request, Parameter, AuthorizationDetailsShape.MaxJsonLength).Value;

    /// <summary>The same, for details sent as JSON text outside OpenIddict's requests (CIBA's back channel).</summary>
    public static (JsonElement? Details, string? Problem) Of(string json, IReadOnlyList<string>? allowedTypes)
    {
        var request = new OpenIddictRequest();
        request.SetParameter(Parameter, json);
        return Of(request, allowedTypes);
    }

    /// <summary>
    /// What a page that asks the user (consent, CIBA approval) shows of the details: each object's type, then every other
    /// member as sent (the common fields, the amount, the creditor…).
    /// </summary>
    public static string Html(PageText t, JsonElement? details)
    {
        if (details is not { } array)
        {
            return string.Empty;
        }

        static string Text(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
        var items = array.EnumerateArray().Select(item =>
        {
            var fields = item.EnumerateObject().Where(f => f.Name != "type")
                .Select(f => $"<li>{HostedPage.Encode(f.Name)}: {HostedPage.Encode(f.Value.ValueKind == JsonValueKind.Array ? string.Join(", ", f.Value.EnumerateArray().Select(Text)) : Text(f.Value))}</li>");
            return $"<li><strong>{HostedPage.Encode(item.GetProperty("type").GetString())}</strong><ul>{string.Concat(fields)}</ul></li>";
        });
        return $"<p>{t.Html("and, in particular:")}</p><ul class=\"authorization-details\">{string.Concat(items)}</ul>";
    }

    /// <summary>Authorization details kept as JSON text (a CIBA request's row); null for none.</summary>
    public static JsonElement? Parse(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    /// <summary>Puts <paramref name="details"/> on a grant's or token's principal, for its access tokens (and its codes and refresh tokens, which keep every claim).</summary>
    public static void Attach(ClaimsIdentity identity, JsonElement? details)
    {
        if (details is not { } value)
        {
            return;
        }

        Put(identity, Claim, value);
        // Destinations are kept per claim type on the identity, set for the claims it had: this one is added to them.
        identity.SetDestinations(identity.GetDestinations().SetItem(Claim, [Destinations.AccessToken]));
    }

    // One claim holding the whole array (OpenIddict's SetClaim takes objects only), so that a token writes it as an array
    // even when it holds one object (RFC 9396 §7).
    private static void Put(ClaimsIdentity identity, string type, JsonElement array)
    {
        foreach (var old in identity.FindAll(type).ToList())
        {
            identity.RemoveClaim(old);
        }

        identity.AddClaim(new Claim(type, array.GetRawText(), JsonClaimValueTypes.JsonArray));
    }

    /// <summary>
    /// Beside a grant's claims (in the refresh tokens of a grant, never in a token a client reads): all the details it was
    /// given, where this access token has fewer.
    /// </summary>
    public const string GrantClaim = "lumo_authorization_details_granted";

    /// <summary>The authorization details a code or refresh token's grant holds; null when none.</summary>
    public static JsonElement? Granted(ClaimsPrincipal grant) => Read(grant, GrantClaim) ?? Read(grant, Claim);

    /// <summary>
    /// For a code exchange or a refresh: the grant keeps all its details (in the refresh token rotated from it), and this
    /// access token has those the request names (AuthorizationDetails.Check found them among the grant's), else all.
    /// </summary>
    public static void Carry(ClaimsIdentity identity, ClaimsPrincipal grant, OpenIddictRequest request)
    {
        if (Granted(grant) is not { } granted)
        {
            return;
        }

        Put(identity, GrantClaim, granted);
        Attach(identity, request.GetParameter(Parameter) is null ? granted : Checked(request));
    }

    // A principal read back from a token holds the array's objects one claim each; one made here holds the array whole.
    private static JsonElement? Read(ClaimsPrincipal principal, string type)
    {
        var claims = principal.FindAll(type).ToList();
        if (claims.Count == 0)
        {
            return null;
        }

        var json = claims is [{ Value: ['[', ..] } whole] ? whole.Value : "[" + string.Join(',', claims.Select(c => c.Value)) + "]";
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    /// <summary>
    /// Whether each object the token request names is one of those the grant holds (§6.2: a client may narrow, as with
    /// scopes and resources, but not widen).
    /// </summary>
    public static bool WithinTheGrant(JsonElement requested, JsonElement? granted) =>
        granted is { ValueKind: JsonValueKind.Array } held
        && requested.EnumerateArray().All(item => held.EnumerateArray().Any(grantedItem => JsonElement.DeepEquals(item, grantedItem)));

    /// <summary>
    /// Checks the request's authorization details where OpenIddict validates each request that may carry them: the
    /// authorization and pushed authorization endpoints, and the token endpoint for the grants that take them.
    /// </summary>
    public sealed class Check(ClientCache clients, TenantContext tenant) :
        IOpenIddictServerHandler<ValidateAuthorizationRequestContext>,
        IOpenIddictServerHandler<ValidatePushedAuthorizationRequestContext>,
        IOpenIddictServerHandler<ValidateTokenRequestContext>,
        IOpenIddictServerHandler<ValidateDeviceAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor AuthorizationDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseScopedHandler<Check>()
                .SetOrder(int.MaxValue - 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public static OpenIddictServerHandlerDescriptor PushedDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidatePushedAuthorizationRequestContext>()
                .UseScopedHandler<Check>()
                .SetOrder(int.MaxValue - 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        // After the grant (code or refresh token) has been validated, whose details the request may only narrow.
        public static OpenIddictServerHandlerDescriptor TokenDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseScopedHandler<Check>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateAuthentication.Descriptor.Order + 700)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public static OpenIddictServerHandlerDescriptor DeviceDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateDeviceAuthorizationRequestContext>()
                .UseScopedHandler<Check>()
                .SetOrder(int.MaxValue - 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateDeviceAuthorizationRequestContext context) => CheckAsync(context, context.ClientId ?? context.Request.ClientId);

        public ValueTask HandleAsync(ValidateAuthorizationRequestContext context) => CheckAsync(context, context.ClientId ?? context.Request.ClientId);

        public ValueTask HandleAsync(ValidatePushedAuthorizationRequestContext context) => CheckAsync(context, context.ClientId ?? context.Request.ClientId);

        public async ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            if (context.Request.GetParameter(Parameter) is null)
            {
                return;
            }

            if (context.Request.IsClientCredentialsGrantType())
            {
                await CheckAsync(context, context.ClientId ?? context.Request.ClientId);
                return;
            }

            if ((context.AuthorizationCodePrincipal ?? context.DeviceCodePrincipal ?? context.RefreshTokenPrincipal) is not { } grant)
            {
                context.Reject(InvalidAuthorizationDetails, "Authorization details are taken with the client credentials, authorization code, device code and refresh token grants only.");
                return;
            }

            // The grant's objects passed the client's types when it was made: narrowing needs only the shape and the match.
            var (details, problem) = Of(context.Request, allowedTypes: [.. TypesOf(Granted(grant))]);
            if (problem is not null || !WithinTheGrant(details!.Value, Granted(grant)))
            {
                context.Reject(InvalidAuthorizationDetails, problem ?? "Requested authorization details must be among those granted.");
            }
        }

        private async ValueTask CheckAsync(BaseValidatingContext context, string? clientId)
        {
            var request = context.Transaction.Request!;
            if (request.GetParameter(Parameter) is null || tenant.Tenant is not { } info)
            {
                return;
            }

            var client = await clients.SettingsAsync(info, clientId, context.CancellationToken);
            if (Of(request, client?.AuthorizationDetailsTypes).Problem is { } problem)
            {
                context.Reject(InvalidAuthorizationDetails, problem);
            }
        }

        private static IEnumerable<string> TypesOf(JsonElement? details) =>
            details is { ValueKind: JsonValueKind.Array } array ? array.EnumerateArray().Select(item => item.GetProperty("type").GetString()!) : [];
    }

    /// <summary>Each token response names the authorization details its access token carries (RFC 9396 §7).</summary>
    public sealed class InTokenResponses : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseSingletonHandler<InTokenResponses>()
                .SetOrder(OpenIddictServerHandlers.AttachCustomSignInParameters.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (context.EndpointType == OpenIddictServerEndpointType.Token && context.AccessTokenPrincipal is { } principal && Read(principal, Claim) is { } details)
            {
                context.Parameters[Parameter] = new OpenIddictParameter(details);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Introspection names the authorization details an active token carries (RFC 9396 §9.2).</summary>
    public sealed class InIntrospection : IOpenIddictServerHandler<HandleIntrospectionRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleIntrospectionRequestContext>()
                .UseSingletonHandler<InIntrospection>()
                .SetOrder(OpenIddictServerHandlers.Introspection.AttachApplicationClaims.Descriptor.Order + 900)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleIntrospectionRequestContext context)
        {
            if (context.GenericTokenPrincipal is { } principal && Read(principal, Claim) is { } details)
            {
                context.Claims[Claim] = new OpenIddictParameter(details);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Discovery (RFC 9396 §10): the types the tenant's clients are registered for, read from its clients at most once a
    /// minute (a type registered or dropped shows within that minute). Left out while there are none (OpenIddict writes no
    /// empty array).
    /// </summary>
    public sealed class Advertise(TenantContext tenant, TokenDbContext db, IMemoryCache cache) : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);

        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseScopedHandler<Advertise>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachAdditionalMetadata.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            if (!tenant.HasTenant)
            {
                return;
            }

            var key = (typeof(Advertise), tenant.TenantId);
            if (!cache.TryGetValue(key, out string[]? types))
            {
                // The tenant's clients only (the query filter), and of those only the ones whose settings name types.
                var settings = await db.Applications.AsNoTracking()
                    .Where(a => a.Properties != null && a.Properties.Contains(TypesProperty))
                    .Select(a => a.Properties!).ToListAsync(context.CancellationToken);
                types = [.. settings.SelectMany(TypesIn).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
                cache.Set(key, types, Lifetime);
            }

            context.Metadata["authorization_details_types_supported"] = JsonSerializer.SerializeToElement(types);
        }

        private const string TypesProperty = "\"" + ClientMapping.AuthorizationDetailsTypesProperty + "\"";

        private static IEnumerable<string> TypesIn(string properties)
        {
            using var document = JsonDocument.Parse(properties);
            return document.RootElement.TryGetProperty(ClientMapping.AuthorizationDetailsTypesProperty, out var list) && list.ValueKind == JsonValueKind.Array
                ? [.. list.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!)]
                : [];
        }
    }
}
