using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// The algorithm the tenant's current key signs with for one client: the key's own, or the one the client registered
/// (<c>id_token_signed_response_alg</c>, <c>userinfo_signed_response_alg</c>) when the key can make it — an RSA key signs
/// RS256 or PS256, an EC key ES256 — and never RS256 for a FAPI 2.0 client (Security Profile §5.4.1: PS256 or ES256), so an
/// RSA tenant signs PS256 for those: their ID tokens, access tokens, authorization responses and introspection answers.
/// </summary>
public static class ClientSigning
{
    /// <summary>What a client may register.</summary>
    public static readonly string[] Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256];

    public static SigningCredentials For(SigningCredentials current, ClientSettings? client, string? registered = null)
    {
        var algorithm = registered ?? current.Algorithm;
        if (client is { FapiProfile: not FapiProfiles.Disabled } && algorithm == SecurityAlgorithms.RsaSha256)
        {
            algorithm = SecurityAlgorithms.RsaSsaPssSha256;
        }

        return algorithm == current.Algorithm ? current
            : IsRsa(current.Algorithm) && IsRsa(algorithm) ? new SigningCredentials(current.Key, algorithm)
            : current;
    }

    /// <summary>What discovery lists for answers signed with <paramref name="current"/>: its algorithm, and PS256 beside RS256.</summary>
    public static string[] AlgorithmsFor(SigningCredentials current) =>
        current.Algorithm == SecurityAlgorithms.RsaSha256 ? [current.Algorithm, SecurityAlgorithms.RsaSsaPssSha256] : [current.Algorithm];

    /// <summary>What a client may register and get from <paramref name="current"/>: RS256 and PS256 from an RSA key, ES256 from an EC key.</summary>
    public static string[] RegistrableFor(SigningCredentials current) =>
        IsRsa(current.Algorithm) ? [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256] : [current.Algorithm];

    /// <summary>
    /// <paramref name="jws"/> signed again with <paramref name="credentials"/> (the same key, another algorithm): header and
    /// payload stay as they are but for <c>alg</c>.
    /// </summary>
    public static string Resign(string jws, SigningCredentials credentials)
    {
        var first = jws.IndexOf('.');
        var second = jws.IndexOf('.', first + 1);
        var header = JsonNode.Parse(Base64UrlEncoder.Decode(jws[..first]))!.AsObject();
        if ((string?)header["alg"] == credentials.Algorithm)
        {
            return jws;
        }

        header["alg"] = credentials.Algorithm;
        var input = Base64UrlEncoder.Encode(header.ToJsonString()) + jws[first..second];
        return input + "." + JwtTokenUtilities.CreateEncodedSignature(input, credentials);
    }

    private static bool IsRsa(string algorithm) => algorithm is SecurityAlgorithms.RsaSha256 or SecurityAlgorithms.RsaSsaPssSha256;

    /// <summary>The client a sign-in issues for: its presenter (OpenIddict's default is the client), else the request's client_id.</summary>
    public static string? ClientOf(ProcessSignInContext context, System.Security.Claims.ClaimsPrincipal? principal) =>
        principal?.GetPresenters().FirstOrDefault() ?? context.Request?.ClientId;

    /// <summary>
    /// ID tokens as the client registered them: signed with its algorithm (above), then, with
    /// <c>id_token_encrypted_response_alg</c>, encrypted to its key as a Nested JWT (OIDC Core §10.2) — wherever an ID token is
    /// issued: the token endpoint (code, refresh, device, CIBA) and the front channel (implicit and hybrid). The hashes
    /// inside (<c>at_hash</c>, <c>c_hash</c>) were made before and do not change (PS256 and RS256 hash alike).
    /// </summary>
    public sealed class IdentityTokens(ClientCache clients, ClientKeySets keySets, TenantContext tenant) : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseScopedHandler<IdentityTokens>()
                .SetOrder(OpenIddictServerHandlers.GenerateIdentityToken.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (string.IsNullOrEmpty(context.IdentityToken) || tenant.Tenant is not { } info
                || ClientOf(context, context.IdentityTokenPrincipal) is not { Length: > 0 } clientId
                || await clients.SettingsAsync(info, clientId, context.CancellationToken) is not { } client
                || context.Options.SigningCredentials is not [var current, ..])
            {
                return;
            }

            context.IdentityToken = Resign(context.IdentityToken, For(current, client, client.ResponseProtection?.IdTokenSigningAlg));
            if (client.ResponseProtection?.IdTokenEncryption is { } encryption)
            {
                // Never sent in the clear: without a key to encrypt to (a published set that lost it), no ID token at all.
                if (await keySets.EncryptAsync(context.IdentityToken, client, encryption, nested: true, context.CancellationToken) is not { } encrypted)
                {
                    context.Reject(Errors.TemporarilyUnavailable, ClientKeySets.NoEncryptionKey);
                    return;
                }

                context.IdentityToken = encrypted;
            }
        }
    }

    /// <summary>
    /// A FAPI 2.0 client's access tokens from an RSA tenant are signed PS256 (§5.4.1), before anything reads or hashes them
    /// (the ID token's <c>at_hash</c>, the audit, the user's token index).
    /// </summary>
    public sealed class FapiAccessTokens(ClientCache clients, TenantContext tenant) : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseScopedHandler<FapiAccessTokens>()
                .SetOrder(OpenIddictServerHandlers.GenerateAccessToken.Descriptor.Order + 100)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (string.IsNullOrEmpty(context.AccessToken) || tenant.Tenant is not { } info
                || context.Options.SigningCredentials is not [{ Algorithm: SecurityAlgorithms.RsaSha256 } current, ..]
                || ClientOf(context, context.AccessTokenPrincipal) is not { Length: > 0 } clientId
                || await clients.SettingsAsync(info, clientId, context.CancellationToken) is not { FapiProfile: not FapiProfiles.Disabled } client)
            {
                return;
            }

            context.AccessToken = Resign(context.AccessToken, For(current, client));
        }
    }

    /// <summary>Discovery (OIDC Discovery §3): what ID tokens and userinfo answers may be signed with.</summary>
    public sealed class Advertise : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<Advertise>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachSigningAlgorithms.Descriptor.Order + 100)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            if (context.Options.SigningCredentials is [var current, ..])
            {
                var algorithms = RegistrableFor(current);
                context.IdTokenSigningAlgorithms.UnionWith(algorithms);
                context.Metadata["userinfo_signing_alg_values_supported"] = JsonSerializer.SerializeToElement(algorithms);
            }

            return ValueTask.CompletedTask;
        }
    }
}
