using System.Text.Json;
using LumoAuth.ServiceDefaults.Security;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// A pairwise client's <c>sector_identifier_uri</c> (OIDC Core §8.1): an https document on the client's own site listing
/// its redirect URIs (a JSON array), so that a relying party whose redirect URIs span hosts (a web site and its native
/// app's scheme, say) is one sector, named by the document's host. Fetched when the client is registered or its redirect
/// URIs change, through <see cref="OpenIdProviders"/> (SSRF-guarded, bounded), never at sign-in.
/// </summary>
public sealed class SectorIdentifiers(OpenIdProviders sites)
{
    private const string DocumentKind = "sector";
    private const int MaxRedirectUris = 100;

    /// <summary>
    /// The document a create or update leaves the client with (<see cref="ClientValidation.SectorIdentifierUriOf"/>),
    /// fetched afresh (at most once per refetch floor) for the registration's checks; null when it names none or the
    /// address itself is refused (validation says why).
    /// </summary>
    public async Task<ClientValidation.Fetched?> ForRegistrationAsync(
        ClientRequest request, ClientSettings? current, bool allowPrivateTargets, CancellationToken cancellationToken)
    {
        if (ClientValidation.SectorIdentifierUriOf(request, current) is not { } uri || OpenIdProviders.UrlProblem(uri, allowPrivateTargets) is not null)
        {
            return null;
        }

        var (listed, problem) = await sites.ClientDocumentAsync(DocumentKind, uri, refetch: true, Read, cancellationToken);
        return new ClientValidation.Fetched(listed, problem);
    }

    /// <summary>The redirect URIs a fetched document lists.</summary>
    public static IReadOnlyList<string> Listed(string document) => JsonSerializer.Deserialize<string[]>(document) ?? [];

    /// <summary>The sector a document names: its host.</summary>
    public static string SectorOf(string sectorIdentifierUri) => new Uri(sectorIdentifierUri).Host.ToLowerInvariant();

    private static (string? Value, string? Problem) Read(JsonElement document)
    {
        if (document.ValueKind != JsonValueKind.Array || document.GetArrayLength() is 0 or > MaxRedirectUris)
        {
            return (null, $"it is not a JSON array of 1 to {MaxRedirectUris} redirect URIs");
        }

        var listed = new List<string>();
        foreach (var entry in document.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.String || !Uri.TryCreate(entry.GetString(), UriKind.Absolute, out _))
            {
                return (null, "it lists something that is not an absolute URI");
            }

            listed.Add(entry.GetString()!);
        }

        return (JsonSerializer.Serialize(listed), null);
    }
}
