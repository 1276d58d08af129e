using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>The checks of a client registration, field by field (RFC 9700: exact, safe redirect URIs).</summary>
public static class ClientValidation
{
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 1000;
    private const int MaxRedirectUris = 20;
    private const int MaxScopes = 100;

    public sealed record ValidClient(
        string Name, string? Description, bool IsConfidential,
        IReadOnlyList<string> GrantTypes, IReadOnlyList<string> Scopes, IReadOnlyList<string> RedirectUris);

    public static ValidClient? Validate(CreateClientRequest request, out Dictionary<string, string[]> errors)
    {
        errors = [];
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            errors["name"] = ["Name is required"];
        }
        else if (name.Length > MaxNameLength)
        {
            errors["name"] = [$"Name must be at most {MaxNameLength} characters"];
        }

        var description = string.IsNullOrWhiteSpace(request.Description) ? null : request.Description.Trim();
        if (description?.Length > MaxDescriptionLength)
        {
            errors["description"] = [$"Description must be at most {MaxDescriptionLength} characters"];
        }

        var isConfidential = request.IsConfidential ?? true;
        var grantTypes = (request.GrantTypes ?? (isConfidential ? [GrantTypes.ClientCredentials] : [GrantTypes.AuthorizationCode]))
            .Distinct(StringComparer.Ordinal).ToList();
        var grantErrors = new List<string>();
        grantErrors.AddRange(grantTypes.Where(g => !ClientPermissions.SupportedGrantTypes.Contains(g ?? string.Empty))
            .Select(g => $"Unknown grant type '{g}'; supported: authorization_code, client_credentials, refresh_token"));
        if (grantTypes.Count == 0)
        {
            grantErrors.Add("At least one grant type is required");
        }

        if (!isConfidential && grantTypes.Contains(GrantTypes.ClientCredentials))
        {
            grantErrors.Add("A public client cannot use client_credentials");
        }

        if (grantTypes.Contains(GrantTypes.RefreshToken) && !grantTypes.Contains(GrantTypes.AuthorizationCode))
        {
            grantErrors.Add("refresh_token needs authorization_code");
        }

        if (grantErrors.Count > 0)
        {
            errors["grantTypes"] = [.. grantErrors];
        }

        var redirectUris = (request.RedirectUris ?? []).Distinct(StringComparer.Ordinal).ToList();
        var uriErrors = redirectUris.Select(RedirectUriProblem).OfType<string>().ToList();
        if (redirectUris.Count > MaxRedirectUris)
        {
            uriErrors.Add($"At most {MaxRedirectUris} redirect URIs");
        }

        if (redirectUris.Count == 0 && grantTypes.Contains(GrantTypes.AuthorizationCode))
        {
            uriErrors.Add("authorization_code needs at least one redirect URI");
        }

        if (uriErrors.Count > 0)
        {
            errors["redirectUris"] = [.. uriErrors];
        }

        var scopes = (request.AllowedScopes ?? []).Distinct(StringComparer.Ordinal).ToList();
        var scopeErrors = scopes.Where(s => !IsScopeToken(s)).Select(s => $"Invalid scope '{s}'").ToList();
        if (scopes.Count > MaxScopes)
        {
            scopeErrors.Add($"At most {MaxScopes} scopes");
        }

        if (scopeErrors.Count > 0)
        {
            errors["allowedScopes"] = [.. scopeErrors];
        }

        return errors.Count > 0 ? null : new ValidClient(name!, description, isConfidential, grantTypes, scopes, redirectUris);
    }

    private static string? RedirectUriProblem(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 2000 || !Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            return $"'{Shorten(value)}' is not an absolute URI";
        }

        if (value.Contains('#', StringComparison.Ordinal))
        {
            return $"'{Shorten(value)}' must not contain a fragment";
        }

        if (uri.Scheme == Uri.UriSchemeHttps)
        {
            return null;
        }

        return uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback
            ? null
            : $"'{Shorten(value)}' must use https (http is allowed only for loopback)";
    }

    // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    private static bool IsScopeToken(string? scope) =>
        !string.IsNullOrEmpty(scope) && scope.Length <= 200
        && scope.All(c => c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E));

    private static string Shorten(string? value) => value is null ? string.Empty : value.Length <= 100 ? value : value[..100] + "…";
}
