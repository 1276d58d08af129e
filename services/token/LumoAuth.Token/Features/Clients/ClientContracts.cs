using System.Text.Json.Serialization;

namespace LumoAuth.Token.Features.Clients;

public sealed record CreateClientRequest(
    string? Name,
    IReadOnlyList<string>? RedirectUris,
    bool? IsConfidential,
    IReadOnlyList<string>? GrantTypes,
    IReadOnlyList<string>? AllowedScopes,
    string? Description);

/// <summary>A client as the Admin API shows it; the secret is never part of it.</summary>
public sealed record ClientResponse(
    Guid Id,
    string ClientId,
    string Name,
    string? Description,
    bool IsConfidential,
    IReadOnlyList<string> GrantTypes,
    IReadOnlyList<string> AllowedScopes,
    IReadOnlyList<string> RedirectUris,
    bool IsActive,
    DateTimeOffset CreatedAt);

/// <summary>The one response that carries the secret: creation.</summary>
public sealed record CreatedClientResponse(
    Guid Id,
    string ClientId,
    string? Secret,
    string Name,
    string? Description,
    bool IsConfidential,
    IReadOnlyList<string> GrantTypes,
    IReadOnlyList<string> AllowedScopes,
    IReadOnlyList<string> RedirectUris,
    DateTimeOffset CreatedAt)
{
    [JsonPropertyName("_note")]
    public string Note => Secret is null ? "Public client: it has no secret." : "Store the secret securely. It will not be shown again.";
}
