using System.Buffers;
using System.Text.Json;
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
/// JWT Secured Authorization Response Mode (JARM): with <c>response_mode</c> <c>jwt</c>, <c>query.jwt</c>,
/// <c>fragment.jwt</c> or <c>form_post.jwt</c>, everything the authorization endpoint sends back to the client (the code,
/// <c>state</c>, <c>iss</c>, or the error) travels as one JWT in <c>response</c>, signed with the tenant's key, addressed to
/// the client (<c>aud</c>) and valid for ten minutes. A FAPI 2.0 Message Signing client gets every response signed so,
/// whatever mode it asked for.
/// </summary>
public static class SignedAuthorizationResponses
{
    public const string Jwt = "jwt";
    public const string QueryJwt = "query.jwt";
    public const string FragmentJwt = "fragment.jwt";
    public const string FormPostJwt = "form_post.jwt";

    public static readonly string[] Modes = [Jwt, QueryJwt, FragmentJwt, FormPostJwt];

    /// <summary>The one parameter a signed response carries.</summary>
    public const string ResponseParameter = "response";

    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    private static bool CarriesTokens(OpenIddictRequest request) =>
        request.HasResponseType(ResponseTypes.Token) || request.HasResponseType(ResponseTypes.IdToken);

    /// <summary>Tokens never travel in a query string (JARM §2.3.1 without encryption; OAuth 2.0 Multiple Response Types).</summary>
    public sealed class NoTokensInQuery : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseSingletonHandler<NoTokensInQuery>()
                .SetOrder(OpenIddictServerHandlers.Authentication.ValidateResponseModeParameter.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
        {
            if (context.Request.ResponseMode == QueryJwt && CarriesTokens(context.Request))
            {
                context.Reject(Errors.InvalidRequest, "query.jwt cannot carry tokens: use fragment.jwt or form_post.jwt.");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Wraps the response in a signed JWT once OpenIddict has attached everything (state, iss) and before it is sent.</summary>
    public sealed class Sign(ClientCache clients, ClientKeySets keySets, TenantContext tenant, TimeProvider time) : IOpenIddictServerHandler<ApplyAuthorizationResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyAuthorizationResponseContext>()
                .UseScopedHandler<Sign>()
                .SetOrder(OpenIddictServerHandlers.Authentication.AttachIssuer.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ApplyAuthorizationResponseContext context)
        {
            if (string.IsNullOrEmpty(context.RedirectUri) || context.Request is not { ClientId: { Length: > 0 } clientId } request)
            {
                return;
            }

            var mode = context.ResponseMode;
            var client = tenant.Tenant is { } info ? await clients.SettingsAsync(info, clientId, context.CancellationToken) : null;
            string? plainMode = mode switch
            {
                Jwt => CarriesTokens(request) ? ResponseModes.Fragment : ResponseModes.Query,
                QueryJwt => ResponseModes.Query,
                FragmentJwt => ResponseModes.Fragment,
                FormPostJwt => ResponseModes.FormPost,
                _ => null,
            };
            if (plainMode is null)
            {
                // A Message Signing client's responses are signed in whatever mode it chose.
                if (mode is not (ResponseModes.Query or ResponseModes.Fragment or ResponseModes.FormPost) || client is not { FapiProfile: FapiProfiles.Advanced })
                {
                    return;
                }

                plainMode = mode;
            }

            var signing = ClientSigning.For(context.Options.SigningCredentials[0], client);
            var jwt = Handler.CreateToken(Payload(context.Response, clientId, context.Options.Issuer?.AbsoluteUri, time.GetUtcNow()), signing);
            // JARM §2.2: a client that registered authorization_encrypted_response_alg gets the signed response encrypted to its key.
            if (client?.ResponseProtection?.AuthorizationEncryption is { } encryption)
            {
                if (await keySets.EncryptAsync(jwt, client, encryption, nested: true, context.CancellationToken) is { } encrypted)
                {
                    jwt = encrypted;
                }
                else
                {
                    // Never sent in the clear: no key to encrypt to (a published set that lost it), so the code or tokens stay
                    // here and the client gets a signed error in their place.
                    var state = context.Response.State;
                    foreach (var name in context.Response.GetParameters().Keys.ToList())
                    {
                        context.Response.RemoveParameter(name);
                    }

                    context.Response.Error = Errors.TemporarilyUnavailable;
                    context.Response.ErrorDescription = ClientKeySets.NoEncryptionKey;
                    context.Response.State = state;
                    jwt = Handler.CreateToken(Payload(context.Response, clientId, context.Options.Issuer?.AbsoluteUri, time.GetUtcNow()), signing);
                }
            }

            foreach (var name in context.Response.GetParameters().Keys.ToList())
            {
                context.Response.RemoveParameter(name);
            }

            context.Response.SetParameter(ResponseParameter, jwt);
            context.ResponseMode = plainMode;
        }

        private static string Payload(OpenIddictResponse response, string clientId, string? issuer, DateTimeOffset now)
        {
            var buffer = new ArrayBufferWriter<byte>(512);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                foreach (var (name, value) in response.GetParameters())
                {
                    if (name is "aud" or "exp")
                    {
                        continue;
                    }

                    writer.WritePropertyName(name);
                    value.WriteTo(writer);
                }

                if (response.Iss is null && issuer is not null)
                {
                    writer.WriteString("iss", issuer);
                }

                writer.WriteString("aud", clientId);
                writer.WriteNumber("exp", (now + Lifetime).ToUnixTimeSeconds());
                writer.WriteEndObject();
            }

            return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
    }

    /// <summary>
    /// Discovery (JARM §3, RFC 9701 §7): what authorization responses and introspection answers are signed with — the
    /// same key and rule (<see cref="ClientSigning.For"/>) sign both.
    /// </summary>
    public sealed class Advertise : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<Advertise>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 6)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            if (context.Options.SigningCredentials is [var current, ..])
            {
                var algorithms = JsonSerializer.SerializeToElement(ClientSigning.AlgorithmsFor(current));
                context.Metadata["authorization_signing_alg_values_supported"] = algorithms;
                context.Metadata["introspection_signing_alg_values_supported"] = algorithms;
            }

            return ValueTask.CompletedTask;
        }
    }
}
