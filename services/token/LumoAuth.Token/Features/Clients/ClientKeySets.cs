using System.Text.Json;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// A client's public keys, wherever it keeps them (RFC 7591 §2): registered inline (<c>jwks</c>), or published at its
/// own <c>jwks_uri</c>, which is fetched through <see cref="OpenIdProviders"/> (SSRF-guarded, cached, fetched again when a
/// JWT names a key the copy lacks, at most once per <see cref="OpenIdProviders.RefetchFloor"/>, the last good copy
/// serving while the site is out). Published keys let a client rotate without an administrator: each of its signatures
/// (assertions, request objects) and each answer encrypted to it uses what the site publishes now.
/// </summary>
public sealed class ClientKeySets(OpenIdProviders sites)
{
    /// <summary>What a client is told when the key set it publishes has no key for an answer it asked to be encrypted.</summary>
    public const string NoEncryptionKey = "The client's published key set (jwks_uri) holds no key to encrypt this answer to right now.";

    private const string DocumentKind = "jwks";

    /// <summary>The key set at <paramref name="jwksUri"/> for a registration's checks (the same cached copy requests use).</summary>
    public async Task<ClientValidation.Fetched> FetchAsync(string jwksUri, CancellationToken cancellationToken)
    {
        var (jwks, problem) = await sites.ClientDocumentAsync(DocumentKind, jwksUri, refetch: false, Read, cancellationToken);
        return new ClientValidation.Fetched(jwks, problem);
    }

    /// <summary>
    /// The key set a create or update leaves the client to publish (<see cref="ClientValidation.JwksUriOf"/>), fetched for
    /// the registration's checks; null when it publishes none or the address itself is refused (validation says why).
    /// </summary>
    public async Task<ClientValidation.Fetched?> ForRegistrationAsync(ClientRequest request, ClientSettings? current, bool allowPrivateTargets, CancellationToken cancellationToken) =>
        ClientValidation.JwksUriOf(request, current) is { } uri && OpenIdProviders.UrlProblem(uri, allowPrivateTargets) is null
            ? await FetchAsync(uri, cancellationToken)
            : null;

    /// <summary>
    /// The client's keys as a JWKS (JSON): its inline set, or its published one, fetched again when <paramref name="kid"/>
    /// is not among them (the client may have rotated since). Null when it has none, or they cannot be had.
    /// </summary>
    public async ValueTask<string?> JwksAsync(ClientSettings client, string? kid, CancellationToken cancellationToken)
    {
        if (client.JwksUri is not { } uri)
        {
            return client.Jwks;
        }

        var (jwks, _) = await sites.ClientDocumentAsync(DocumentKind, uri, refetch: false, Read, cancellationToken);
        if (jwks is not null && kid is { Length: > 0 } && !new JsonWebKeySet(jwks).Keys.Any(key => key.Kid == kid))
        {
            (jwks, _) = await sites.ClientDocumentAsync(DocumentKind, uri, refetch: true, Read, cancellationToken);
        }

        return jwks;
    }

    /// <summary>
    /// <paramref name="payload"/> encrypted to the client's key for <paramref name="choice"/>; null when its published set
    /// holds no such key now (the answer is then refused, never sent in the clear).
    /// </summary>
    public async ValueTask<string?> EncryptAsync(string payload, ClientSettings client, ResponseEncryption.Choice choice, bool nested, CancellationToken cancellationToken)
    {
        var jwks = await JwksAsync(client, kid: null, cancellationToken);
        return ResponseEncryption.KeyFor(jwks, choice.Alg) is null ? null : ResponseEncryption.Encrypt(payload, jwks, choice, nested);
    }

    /// <summary>The <c>kid</c> a client-signed JWT names (read, not trusted: it picks the key to check it with); null if none or malformed.</summary>
    public static string? KeyIdOf(string jwt)
    {
        try
        {
            return new JsonWebToken(jwt).Kid;
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            return null;
        }
    }

    /// <summary>A published set is held to what a registration's inline one is: public RSA or EC keys only.</summary>
    private static (string? Value, string? Problem) Read(JsonElement set)
    {
        var validator = new RequestValidator();
        var jwks = ClientKeys.Normalize(set, validator, ClientKeys.MaxPublishedKeys);
        return validator.FirstProblems.FirstOrDefault() is { Problem: { } problem }
            ? (null, "its key set " + problem)
            : jwks is null ? (null, "its key set holds no keys") : (jwks, null);
    }
}
