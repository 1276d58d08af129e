using System.Text.Json;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server.AspNetCore;

namespace LumoAuth.Token.Features.UserInfo;

/// <summary>
/// The userinfo answer in the form the client registered (OIDC Core §5.3.2): plain JSON by default; with
/// <c>userinfo_signed_response_alg</c> a JWT signed with the tenant's current key, carrying <c>iss</c> and <c>aud</c> (the
/// client) besides the claims; with <c>userinfo_encrypted_response_alg</c> that JWT (or, unsigned, the claims) encrypted to
/// the client's key. Either JWT form is <c>application/jwt</c>.
/// </summary>
public static class UserInfoResponses
{
    public const string JwtMediaType = "application/jwt";

    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>The settings of the client a token was issued to, when the tenant has it.</summary>
    public static async ValueTask<ClientSettings?> ClientAsync(HttpContext http, string? clientId, TenantContext tenant, ClientCache clients) =>
        tenant.Tenant is { } info && clientId is not null ? await clients.SettingsAsync(info, clientId, http.RequestAborted) : null;

    /// <summary>The answer for <paramref name="clientId"/>: <paramref name="claims"/> as JSON, or as the JWT it registered.</summary>
    public static async ValueTask<IResult> AnswerAsync(HttpContext http, object claims, string? clientId, ClientSettings? client)
    {
        var options = http.Features.Get<OpenIddictServerAspNetCoreFeature>()?.Transaction?.Options;
        if (client?.ResponseProtection is not { } protection || (protection.UserinfoSigningAlg is null && protection.UserinfoEncryption is null)
            || options?.Issuer is not { } issuer)
        {
            return Results.Json(claims);
        }

        // Serialized as the plain answer would be, then named by issuer and audience (§5.3.2).
        var serializer = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var payload = JsonSerializer.SerializeToNode(claims, serializer)!.AsObject();
        payload["iss"] = issuer.AbsoluteUri;
        payload["aud"] = clientId;
        var json = payload.ToJsonString();
        var signed = protection.UserinfoSigningAlg is { } alg && options.SigningCredentials is [var current, ..]
            ? Handler.CreateToken(json, ClientSigning.For(current, client, alg))
            : null;
        var body = signed ?? json;
        if (protection.UserinfoEncryption is { } encryption)
        {
            // Never sent in the clear: without a key to encrypt to (a published set that lost it), no claims at all.
            if (await http.RequestServices.GetRequiredService<ClientKeySets>()
                    .EncryptAsync(body, client, encryption, nested: signed is not null, http.RequestAborted) is not { } encrypted)
            {
                return ProtocolErrors.Json(OpenIddict.Abstractions.OpenIddictConstants.Errors.TemporarilyUnavailable,
                    ClientKeySets.NoEncryptionKey, StatusCodes.Status503ServiceUnavailable);
            }

            body = encrypted;
        }

        http.Response.Headers.CacheControl = "no-store";
        return Results.Text(body, JwtMediaType);
    }
}
