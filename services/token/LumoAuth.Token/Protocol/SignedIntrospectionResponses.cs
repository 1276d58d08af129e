using System.Buffers;
using System.Text.Json;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using Microsoft.AspNetCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Net.Http.Headers;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// JWT responses for token introspection (RFC 9701; FAPI 2.0 Message Signing): a resource server that asks with
/// <c>Accept: application/token-introspection+jwt</c> gets the answer as a JWT signed with the tenant's current key —
/// <c>typ</c> <c>token-introspection+jwt</c>, <c>iss</c> the issuer, <c>aud</c> the calling client, <c>iat</c>, and the
/// usual answer under <c>token_introspection</c> — so it can keep or forward a verifiable statement of what it was told.
/// Errors (a client that did not authenticate, a malformed request) stay plain JSON, as RFC 7662 gives them.
/// </summary>
public static class SignedIntrospectionResponses
{
    public const string MediaType = "application/token-introspection+jwt";
    public const string TokenType = "token-introspection+jwt";

    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    public sealed class Sign(TimeProvider time, ClientCache clients, ClientKeySets keySets, TenantContext tenant) : IOpenIddictServerHandler<ApplyIntrospectionResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyIntrospectionResponseContext>()
                .UseScopedHandler<Sign>()
                .SetOrder(OpenIddictServerAspNetCoreHandlers.ProcessJsonResponse<ApplyIntrospectionResponseContext>.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ApplyIntrospectionResponseContext context)
        {
            if (!string.IsNullOrEmpty(context.Response.Error) || context.Request?.ClientId is not { Length: > 0 } clientId
                || context.Transaction.GetHttpRequest() is not { } request || !AsksForJwt(request)
                || context.Options.SigningCredentials is not [var current, ..] || context.Options.Issuer is not { } issuer)
            {
                return;
            }

            var caller = tenant.Tenant is { } info ? await clients.SettingsAsync(info, clientId, context.CancellationToken) : null;
            var signing = ClientSigning.For(current, caller);

            var jwt = Handler.CreateToken(Payload(context, issuer.AbsoluteUri, clientId), signing, new Dictionary<string, object> { [JwtHeaderParameterNames.Typ] = TokenType });
            // RFC 9701 §5: a caller that registered introspection_encrypted_response_alg gets the signed answer encrypted to its key.
            var response = request.HttpContext.Response;
            if (caller?.ResponseProtection?.IntrospectionEncryption is { } encryption)
            {
                if (await keySets.EncryptAsync(jwt, caller, encryption, nested: true, context.CancellationToken) is not { } encrypted)
                {
                    // Never sent in the clear: the caller learns only that it must try again once its key set is whole.
                    response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                    response.Headers.CacheControl = "no-store";
                    await response.WriteAsJsonAsync(new Dictionary<string, string>
                    {
                        [Parameters.Error] = Errors.TemporarilyUnavailable,
                        [Parameters.ErrorDescription] = ClientKeySets.NoEncryptionKey,
                    }, context.CancellationToken);
                    context.HandleRequest();
                    return;
                }

                jwt = encrypted;
            }

            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = MediaType;
            response.Headers.CacheControl = "no-store";
            response.Headers.Pragma = "no-cache";
            await response.WriteAsync(jwt, context.CancellationToken);
            context.HandleRequest();
        }

        private string Payload(ApplyIntrospectionResponseContext context, string issuer, string clientId)
        {
            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("iss", issuer);
                writer.WriteString("aud", clientId);
                writer.WriteNumber("iat", time.GetUtcNow().ToUnixTimeSeconds());
                writer.WritePropertyName("token_introspection");
                writer.WriteStartObject();
                foreach (var (name, value) in context.Response.GetParameters())
                {
                    writer.WritePropertyName(name);
                    value.WriteTo(writer);
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        /// <summary>A JWT when the caller prefers it to JSON (RFC 9110 §12.5.1 quality values; JSON wins a tie, being the default).</summary>
        private static bool AsksForJwt(HttpRequest request)
        {
            if (!MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var accepted))
            {
                return false;
            }

            double QualityOf(string mediaType) => accepted.Where(type => type.MediaType.Equals(mediaType, StringComparison.OrdinalIgnoreCase))
                .Select(type => type.Quality ?? 1).DefaultIfEmpty(0).Max();

            var jwt = QualityOf(MediaType);
            return jwt > 0 && jwt > QualityOf("application/json");
        }
    }
}
