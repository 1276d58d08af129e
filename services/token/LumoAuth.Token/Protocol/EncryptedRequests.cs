using System.Text.Json;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Keys;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// What clients encrypt to the tenant (JWE, RFC 7516): request objects (RFC 9101 §6.1, signed then encrypted) and ID
/// tokens sent back as <c>id_token_hint</c> (OIDC RP-Initiated Logout 1.0 §2 lets a client re-encrypt one it received
/// encrypted). The key is the tenant's EC P-256 key (<see cref="TenantDecryptionKey"/>), published in its JWKS with
/// <c>use</c> <c>enc</c>; key management ECDH-ES, ECDH-ES+A128KW or ECDH-ES+A256KW, content as for our own answers. The
/// inside must be a signed JWT, checked as an unencrypted one would be. Compressed (<c>zip</c>) objects are refused
/// (decompression bombs).
/// </summary>
public static class EncryptedRequests
{
    public static readonly string[] KeyAlgorithms = ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"];

    /// <summary>Whether <paramref name="token"/> is in the JWE compact form (five parts).</summary>
    public static bool IsEncrypted(string token) => token.Count(c => c == '.') == 4;

    /// <summary>The signed JWT inside <paramref name="jwe"/>, or why it cannot be opened.</summary>
    /// <param name="keys">The tenant's keys clients encrypt to: the active one first, then one in its grace period.</param>
    public static (string? Inner, string? Error) Open(string jwe, IReadOnlyList<TenantDecryptionKey>? keys)
    {
        if (keys is not [var active, ..])
        {
            return (null, "The tenant has no decryption key.");
        }

        JsonElement header;
        try
        {
            header = JsonDocument.Parse(Base64UrlEncoder.Decode(jwe[..jwe.IndexOf('.')])).RootElement;
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            return (null, "The JWE header is not valid JSON.");
        }

        string? Member(string name) =>
            header.ValueKind == JsonValueKind.Object && header.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        if (header.ValueKind != JsonValueKind.Object || !KeyAlgorithms.Contains(Member("alg"), StringComparer.Ordinal))
        {
            return (null, "It must be encrypted with one of " + string.Join(", ", KeyAlgorithms) + " to the tenant's key.");
        }

        if (!ResponseEncryption.ContentAlgorithms.Contains(Member("enc"), StringComparer.Ordinal))
        {
            return (null, "Its content must be encrypted with one of " + string.Join(", ", ResponseEncryption.ContentAlgorithms) + ".");
        }

        if (header.TryGetProperty("zip", out _))
        {
            return (null, "Compressed (zip) JWEs are not accepted.");
        }

        // Named by kid, or without one the active key.
        var key = Member("kid") is { } kid ? keys.FirstOrDefault(k => k.KeyId == kid) : active;
        if (key is null)
        {
            return (null, "It is encrypted to a key this tenant does not have.");
        }

        string inner;
        try
        {
            inner = Jose.JWT.Decode(jwe, key.Key);
        }
        catch (Exception e) when (e is Jose.JoseException or ArgumentException or FormatException or System.Security.Cryptography.CryptographicException)
        {
            return (null, "It cannot be decrypted with the tenant's key.");
        }

        return inner.Count(c => c == '.') == 2 ? (inner, null) : (null, "Inside the JWE there must be a signed JWT.");
    }

    /// <summary>
    /// An <c>id_token_hint</c> encrypted to the tenant is replaced by the signed ID token inside, before OpenIddict checks
    /// it; one that does not open stays as it is and is as invalid to OpenIddict as any foreign token.
    /// </summary>
    public sealed class DecryptIdTokenHints(TenantKeyStore keys, TenantContext tenant) :
        IOpenIddictServerHandler<ExtractAuthorizationRequestContext>,
        IOpenIddictServerHandler<ExtractEndSessionRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor AuthorizationDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ExtractAuthorizationRequestContext>()
                .UseScopedHandler<DecryptIdTokenHints>()
                // After a request object has been unpacked: its hint is opened too.
                .SetOrder(SignedRequestObjects.Unpack.AuthorizationDescriptor.Order + 100)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public static OpenIddictServerHandlerDescriptor EndSessionDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ExtractEndSessionRequestContext>()
                .UseScopedHandler<DecryptIdTokenHints>()
                .SetOrder(OpenIddictServerAspNetCoreHandlers.ExtractGetOrPostRequest<ExtractEndSessionRequestContext>.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ExtractAuthorizationRequestContext context) => OpenAsync(context.Transaction, context.CancellationToken);

        public ValueTask HandleAsync(ExtractEndSessionRequestContext context) => OpenAsync(context.Transaction, context.CancellationToken);

        private async ValueTask OpenAsync(OpenIddictServerTransaction transaction, CancellationToken cancellationToken)
        {
            if (transaction.Request is not { IdTokenHint: { Length: > 0 and <= SignedRequestObjects.MaxLength } hint } request
                || !IsEncrypted(hint) || tenant.Tenant is not { } info)
            {
                return;
            }

            if (Open(hint, (await keys.GetAsync(info.Id, cancellationToken)).Decryption).Inner is { } inner)
            {
                request.IdTokenHint = inner;
            }
        }
    }

    /// <summary>The tenant's JWKS names the key to encrypt to, beside its signing keys.</summary>
    public sealed class PublishKey(TenantKeyStore keys, TenantContext tenant) : IOpenIddictServerHandler<HandleJsonWebKeySetRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleJsonWebKeySetRequestContext>()
                .UseScopedHandler<PublishKey>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachSigningKeys.Descriptor.Order + 100)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(HandleJsonWebKeySetRequestContext context)
        {
            if (tenant.Tenant is { } info)
            {
                foreach (var key in (await keys.GetAsync(info.Id, context.CancellationToken)).Decryption ?? [])
                {
                    context.Keys.Add(key.PublicJwk());
                }
            }
        }
    }

    /// <summary>Discovery (OIDC Discovery §3): what request objects may be encrypted with.</summary>
    public sealed class Advertise : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        private static readonly JsonElement KeyAlgorithmValues = JsonSerializer.SerializeToElement(KeyAlgorithms);
        private static readonly JsonElement ContentAlgorithmValues = JsonSerializer.SerializeToElement(ResponseEncryption.ContentAlgorithms);

        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<Advertise>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 8)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            context.Metadata["request_object_encryption_alg_values_supported"] = KeyAlgorithmValues;
            context.Metadata["request_object_encryption_enc_values_supported"] = ContentAlgorithmValues;
            return ValueTask.CompletedTask;
        }
    }
}
