using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.ServiceDefaults.Http;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Security;

/// <summary>Where breached passwords are looked up (section <c>Passwords:BreachCheck</c>); no <see cref="BaseUrl"/>, no lookups.</summary>
public sealed class BreachCheckOptions
{
    public const string SectionName = "Passwords:BreachCheck";

    /// <summary>A service speaking the Pwned Passwords range API, e.g. <c>https://api.pwnedpasswords.com/</c>.</summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>The longest a password change waits for the answer before it goes ahead unchecked.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(3);
}

/// <summary>
/// Whether a password is in a breach corpus, by the Pwned Passwords k-anonymity range API: only the first five hex
/// characters of the password's SHA-1 leave the service (with padding asked for, so the answer's size tells nothing),
/// and the match is made here. When the service cannot answer in time the password is not refused (logged): a breach
/// list being down must not stop users from changing passwords.
/// </summary>
public sealed partial class BreachedPasswords(IHttpClientFactory httpClientFactory, IOptions<BreachCheckOptions> options, ILogger<BreachedPasswords> logger)
{
    public const string HttpClientName = "breached-passwords";

    public bool IsEnabled => options.Value.BaseUrl is not null;

    public async Task<bool> IsBreachedAsync(string password, CancellationToken cancellationToken)
    {
        if (options.Value.BaseUrl is not { } baseUrl)
        {
            return false;
        }

#pragma warning disable CA5350 // The range API is keyed by SHA-1; it identifies, it does not protect, and only a 5-character prefix is sent.
        var hex = Convert.ToHexString(SHA1.HashData(Encoding.UTF8.GetBytes(password)));
#pragma warning restore CA5350
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUrl.AbsoluteUri.TrimEnd('/') + "/range/" + hex[..5]));
            request.Headers.Add("Add-Padding", "true");
            using var response = await httpClientFactory.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogUnanswered(logger, (int)response.StatusCode);
                return false;
            }

            return Lists(await response.Content.ReadAsStringAsync(timeout.Token), hex[5..]);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogUnreachable(logger, ex);
            return false;
        }
    }

    /// <summary>Whether the range answer (<c>SUFFIX:COUNT</c> lines; padding lines count 0) lists the suffix as seen.</summary>
    private static bool Lists(string range, string suffix)
    {
        foreach (var line in range.AsSpan().EnumerateLines())
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim().Equals(suffix, StringComparison.OrdinalIgnoreCase)
                && int.TryParse(line[(colon + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                return count > 0;
            }
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The breached-password service answered {Status}; the password was not checked")]
    private static partial void LogUnanswered(ILogger logger, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The breached-password service did not answer; the password was not checked")]
    private static partial void LogUnreachable(ILogger logger, Exception exception);
}
