using System.Xml;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>Reading a SAML message from its binding (HTTP-Redirect or HTTP-POST) and checking its signature, for every SAML endpoint.</summary>
public static class SamlBindings
{
    /// <summary>The longest RelayState taken (SAML Bindings §3.4.3 asks for 80 bytes; SPs often send a URL).</summary>
    public const int MaxRelayStateLength = 1024;

    /// <summary>A message as its binding carries it: the XML, the RelayState, whether it was signed (and checked), and the raw query for Redirect signatures.</summary>
    public sealed record Message(XmlDocument? Document, string? RelayState, bool IsRedirect, string? Problem)
    {
        public bool Signed { get; set; }
    }

    public static async Task<Message> ReadAsync(HttpContext http, string field)
    {
        var isRedirect = HttpMethods.IsGet(http.Request.Method);
        string? encoded;
        string? relayState;
        if (isRedirect)
        {
            // Each parameter once, and as the query's own text says: a signature covers the parameters as they arrived, so
            // a second RelayState (or one spelt with an escaped name) would be used without being covered.
            var raw = http.Request.QueryString.Value ?? string.Empty;
            foreach (var name in new[] { field, "RelayState", "SigAlg", "Signature" })
            {
                var values = http.Request.Query[name];
                if (values.Count > 1 || (values.Count == 1 && (RawParameter(raw, name) is not { } text || Unescaped(text) != values[0])))
                {
                    return new Message(null, null, true, $"The query must carry {name} once, plainly.");
                }
            }

            (encoded, relayState) = (http.Request.Query[field].ToString(), http.Request.Query["RelayState"].ToString());
        }
        else if (http.Request.HasFormContentType)
        {
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            (encoded, relayState) = (form[field].ToString(), form["RelayState"].ToString());
        }
        else
        {
            return new Message(null, null, false, $"A SAML message comes as a form field {field} (HTTP-POST binding) or a query parameter (HTTP-Redirect binding).");
        }

        relayState = relayState is { Length: > 0 } ? relayState : null;
        if (relayState is { Length: > MaxRelayStateLength })
        {
            return new Message(null, null, isRedirect, $"The RelayState is too long ({MaxRelayStateLength} characters at most).");
        }

        var xml = isRedirect ? SamlMessages.FromRedirect(encoded) : SamlMessages.FromPost(encoded);
        var document = xml is null ? null : SamlMessages.Load(xml);
        return document is null
            ? new Message(null, null, isRedirect, $"The {field} is missing, or not encoded as its binding requires, or not well-formed XML without a DTD.")
            : new Message(document, relayState, isRedirect, null);
    }

    /// <summary>
    /// A signed message is checked with the sender's certificate (a signature that does not hold is refused even when the
    /// sender need not sign); an unsigned one is refused when it must be signed. Null when the message may go on.
    /// </summary>
    public static string? CheckSignature(HttpContext http, Message message, IReadOnlyList<byte[]> certificates, bool required, string field)
    {
        var query = http.Request.QueryString.Value ?? string.Empty;
        var redirectSigned = message.IsRedirect && RawParameter(query, "Signature") is not null;
        var postSigned = !message.IsRedirect && SamlSignatures.IsSigned(message.Document!);
        if (!redirectSigned && !postSigned)
        {
            return required ? "the sender must sign its messages, and this one is not signed" : null;
        }

        if (certificates.Count == 0)
        {
            return "it is signed, but no certificate is registered for the sender to check the signature with";
        }

        // SAML Bindings §3.4.4.1: the parameters as they arrived (still URL-encoded), in this order.
        var signedPart = $"{field}={RawParameter(query, field)}"
                         + (RawParameter(query, "RelayState") is { } relay ? "&RelayState=" + relay : string.Empty)
                         + "&SigAlg=" + RawParameter(query, "SigAlg");
        var problem = SamlSignatures.WithAny(certificates, certificate => redirectSigned
            ? SamlSignatures.VerifyRedirect(signedPart, http.Request.Query["SigAlg"].ToString(), http.Request.Query["Signature"].ToString(), certificate)
            : SamlSignatures.VerifyEnveloped(message.Document!, certificate));
        message.Signed = problem is null;
        return problem;
    }

    private static string Unescaped(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));

    /// <summary>A query parameter's value exactly as it arrived (signatures cover the encoded form).</summary>
    private static string? RawParameter(string query, string name)
    {
        foreach (var pair in query.TrimStart('?').Split('&'))
        {
            if (pair.StartsWith(name + "=", StringComparison.Ordinal))
            {
                return pair[(name.Length + 1)..];
            }
        }

        return null;
    }

    /// <summary>Sends the browser to <paramref name="url"/> with a Redirect-binding query (the URL may carry a query of its own).</summary>
    public static IResult RedirectWith(HttpContext http, string url, string query)
    {
        http.Response.Headers.CacheControl = "no-store";
        return Results.Redirect(WithQuery(url, query));
    }

    /// <summary>Answers a LogoutRequest at the partner's logout URL: a LogoutResponse by the Redirect binding, signed in the query.</summary>
    public static IResult LogoutAnswer(
        HttpContext http, string issuer, string sloUrl, string inResponseTo, string status, string? relayState, SamlKey key, DateTimeOffset now)
    {
        http.Response.Headers.CacheControl = "no-store";
        return Results.Redirect(LogoutAnswerUrl(issuer, sloUrl, inResponseTo, status, relayState, key, now));
    }

    /// <summary>Where <see cref="LogoutAnswer"/> sends the browser.</summary>
    public static string LogoutAnswerUrl(string issuer, string sloUrl, string inResponseTo, string status, string? relayState, SamlKey key, DateTimeOffset now) =>
        SignedRedirectUrl(sloUrl, "SAMLResponse", SamlDocuments.LogoutResponse(issuer, sloUrl, inResponseTo, status, now), relayState, key);

    /// <summary>
    /// <paramref name="url"/> carrying a message by the HTTP-Redirect binding (<paramref name="field"/> = the deflated,
    /// base64 message, then the RelayState), signed in the query with the tenant's key (SAML Bindings §3.4.4.1).
    /// </summary>
    public static string SignedRedirectUrl(string url, string field, string message, string? relayState, SamlKey key) =>
        WithQuery(url, SamlSignatures.SignRedirect(
            $"{field}={Uri.EscapeDataString(message)}" + (relayState is null ? string.Empty : "&RelayState=" + Uri.EscapeDataString(relayState)), key));

    /// <summary><paramref name="url"/> with a Redirect-binding query added (the URL may carry a query of its own).</summary>
    public static string WithQuery(string url, string query) => url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query;
}
