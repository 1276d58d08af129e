using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Keys;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Pairwise subject identifiers (OIDC Core §8.1): a client registered with <c>subject_type</c> <c>pairwise</c> sees each
/// person under a name of its sector (the host of its redirect URIs) alone, in ID tokens, userinfo and logout tokens, so
/// that clients of different sectors cannot join what they know of one person. The name is the user's id encrypted as
/// one AES block under a key derived from the tenant's pairwise secret and the sector: stable, unlinkable without the
/// secret, and reversible here, so an ID token the client sends back as a hint still names its user. Access tokens keep
/// the user's id: they are read by the tenant's APIs, whose roles and relationships are keyed on it.
/// </summary>
public static class PairwiseSubjects
{
    public const string Public = "public";
    public const string PairwiseType = "pairwise";

    /// <summary>What the client sees as the user's subject.</summary>
    public static string SubjectFor(Guid userId, string sector, byte[] secret)
    {
        using var aes = Aes.Create();
        aes.Key = SectorKey(sector, secret);
        return Base64UrlEncoder.Encode(aes.EncryptEcb(userId.ToByteArray(), PaddingMode.None));
    }

    /// <summary>The user a pairwise subject of <paramref name="sector"/> names; null when it is not one (a malformed value).</summary>
    public static Guid? UserOf(string subject, string sector, byte[] secret)
    {
        byte[] bytes;
        try
        {
            bytes = Base64UrlEncoder.DecodeBytes(subject);
        }
        catch (FormatException)
        {
            return null;
        }

        if (bytes.Length != 16)
        {
            return null;
        }

        using var aes = Aes.Create();
        aes.Key = SectorKey(sector, secret);
        return new Guid(aes.DecryptEcb(bytes, PaddingMode.None));
    }

    /// <summary>The subject <paramref name="client"/> sees for <paramref name="userId"/>: pairwise for a pairwise client, else the id.</summary>
    public static string SubjectFor(Guid userId, ClientSettings? client, TenantKeyMaterial keys) =>
        client?.PairwiseSector is { } sector && keys.PairwiseSecret is { } secret ? SubjectFor(userId, sector, secret) : userId.ToString();

    /// <summary>The user a subject <paramref name="client"/> was given names: its id as it is, or its pairwise name reversed.</summary>
    public static string? UserIdOf(string? subject, ClientSettings? client, TenantKeyMaterial keys) =>
        subject is null || Guid.TryParse(subject, out _) ? subject
        : client?.PairwiseSector is { } sector && keys.PairwiseSecret is { } secret ? UserOf(subject, sector, secret)?.ToString()
        : subject;

    private static byte[] SectorKey(string sector, byte[] secret) =>
        HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes("lumoauth-pairwise-subject:" + sector));

    /// <summary>The sector of a pairwise client: the one host its redirect URIs share (a native app's custom scheme counts as its host).</summary>
    public static IReadOnlyList<string> SectorsOf(IEnumerable<string> redirectUris) =>
        redirectUris.Select(uri => Uri.TryCreate(uri, UriKind.Absolute, out var parsed) ? parsed.Host is { Length: > 0 } host ? host.ToLowerInvariant() : parsed.Scheme : null)
            .OfType<string>().Distinct(StringComparer.Ordinal).ToList();

    /// <summary>ID tokens for a pairwise client name the user pairwise (their access tokens do not).</summary>
    public sealed class InIdentityTokens(ClientCache clients, TenantContext tenant, TenantKeyStore keys) : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseScopedHandler<InIdentityTokens>()
                .SetOrder(OpenIddictServerHandlers.PrepareIdentityTokenPrincipal.Descriptor.Order + 100)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (context.IdentityTokenPrincipal is not { } principal || tenant.Tenant is not { } info
                || !Guid.TryParse(principal.GetClaim(Claims.Subject), out var userId)
                || ClientSigning.ClientOf(context, principal) is not { Length: > 0 } clientId
                || await clients.SettingsAsync(info, clientId, context.CancellationToken) is not { PairwiseSector: not null } client)
            {
                return;
            }

            principal.SetClaim(Claims.Subject, SubjectFor(userId, client, await keys.GetAsync(info.Id, context.CancellationToken)));
        }
    }

    /// <summary>
    /// An ID token sent back as <c>id_token_hint</c> names its user by their pairwise subject; once OpenIddict has verified
    /// it, the principal the endpoints read names the user's id, as every other hint does.
    /// </summary>
    public sealed class InHints(ClientCache clients, TenantContext tenant, TenantKeyStore keys) : IOpenIddictServerHandler<ProcessAuthenticationContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
                .UseScopedHandler<InHints>()
                .SetOrder(OpenIddictServerHandlers.ValidateIdentityToken.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessAuthenticationContext context)
        {
            if (context.IdentityTokenPrincipal is not { } principal || tenant.Tenant is not { } info
                || principal.GetClaim(Claims.Subject) is not { } subject || Guid.TryParse(subject, out _)
                || principal.GetAudiences().FirstOrDefault() is not { Length: > 0 } clientId)
            {
                return;
            }

            var client = await clients.SettingsAsync(info, clientId, context.CancellationToken);
            if (UserIdOf(subject, client, await keys.GetAsync(info.Id, context.CancellationToken)) is { } userId && userId != subject)
            {
                principal.SetClaim(Claims.Subject, userId);
            }
        }
    }

    /// <summary>Discovery (OIDC Discovery §3): pairwise subjects beside public ones.</summary>
    public sealed class Advertise : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<Advertise>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachSubjectTypes.Descriptor.Order + 100)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            context.SubjectTypes.Add(PairwiseType);
            return ValueTask.CompletedTask;
        }
    }
}
