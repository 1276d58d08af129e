using System.Text.Json;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.UserInfo;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// What discovery says of the answers a client may receive encrypted (<see cref="ResponseEncryption"/>). Each is encrypted
/// where it is written: ID tokens in <see cref="ClientSigning.IdentityTokens"/>, userinfo, authorization responses and
/// introspection answers by their endpoints.
/// </summary>
public static class EncryptedResponses
{
    /// <summary>
    /// Discovery (OIDC Discovery §3, JARM §4, RFC 9701 §7): what ID tokens, userinfo, authorization responses and
    /// introspection answers are encrypted with.
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
