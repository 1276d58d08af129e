using System.Text.Json;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.UserInfo;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// What a client registered to receive encrypted (<see cref="ResponseEncryption"/>): here its ID tokens, and what discovery
/// says of every encrypted answer. Userinfo, authorization responses and introspection answers are encrypted where they
/// are written.
/// </summary>
public static class EncryptedResponses
{
    /// <summary>
    /// ID tokens for a client that registered <c>id_token_encrypted_response_alg</c> (OIDC Core §10.2): the signed token is
    /// encrypted to the client's key as a Nested JWT, wherever it is issued — the token endpoint (code, refresh, device,
    /// CIBA) and the front channel (implicit and hybrid). Hashes inside it (<c>at_hash</c>, <c>c_hash</c>) were made before.
    /// </summary>
    public sealed class EncryptIdentityTokens(ClientCache clients, TenantContext tenant) : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseScopedHandler<EncryptIdentityTokens>()
                .SetOrder(OpenIddictServerHandlers.GenerateIdentityToken.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (string.IsNullOrEmpty(context.IdentityToken) || tenant.Tenant is not { } info
                || (context.Request?.ClientId ?? context.IdentityTokenPrincipal?.GetPresenters().FirstOrDefault()) is not { Length: > 0 } clientId)
            {
                return;
            }

            if (await clients.SettingsAsync(info, clientId, context.CancellationToken) is { ResponseProtection.IdTokenEncryption: { } encryption } client)
            {
                context.IdentityToken = ResponseEncryption.Encrypt(context.IdentityToken, client.Jwks, encryption, nested: true);
            }
        }
    }

    /// <summary>
    /// Discovery (OIDC Discovery §3, JARM §4, RFC 9701 §7): what userinfo answers are signed with, and what ID tokens,
    /// userinfo, authorization responses and introspection answers are encrypted with.
    /// </summary>
    public sealed class Advertise : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        private static readonly JsonElement KeyAlgorithms = JsonSerializer.SerializeToElement(ResponseEncryption.KeyAlgorithms);
        private static readonly JsonElement ContentAlgorithms = JsonSerializer.SerializeToElement(ResponseEncryption.ContentAlgorithms);

        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<Advertise>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 7)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            if (context.Options.SigningCredentials is [var current, ..])
            {
                context.Metadata["userinfo_signing_alg_values_supported"] = JsonSerializer.SerializeToElement(
                    UserInfoResponses.SigningAlgorithms.Where(alg => UserInfoResponses.SigningCredentials(current, alg).Algorithm == alg).ToArray());
            }

            context.Metadata["id_token_encryption_alg_values_supported"] = KeyAlgorithms;
            context.Metadata["id_token_encryption_enc_values_supported"] = ContentAlgorithms;
            context.Metadata["userinfo_encryption_alg_values_supported"] = KeyAlgorithms;
            context.Metadata["userinfo_encryption_enc_values_supported"] = ContentAlgorithms;
            context.Metadata["authorization_encryption_alg_values_supported"] = KeyAlgorithms;
            context.Metadata["authorization_encryption_enc_values_supported"] = ContentAlgorithms;
            context.Metadata["introspection_encryption_alg_values_supported"] = KeyAlgorithms;
            context.Metadata["introspection_encryption_enc_values_supported"] = ContentAlgorithms;
            return ValueTask.CompletedTask;
        }
    }
}
