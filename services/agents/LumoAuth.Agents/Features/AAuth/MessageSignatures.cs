using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LumoAuth.Agents.Features.AAuth;

/// <summary>
/// One HTTP message signature read from a request (RFC 9421): which components it covers, when it was made, which key
/// it names, and the exact bytes that were signed. Two spellings are read:
/// <list type="bullet">
/// <item>RFC 9421's own, <c>Signature-Input: sig1=("@method" "@target-uri" …);created=…;keyid="…";alg="…"</c> with
/// <c>Signature: sig1=:…:</c>; the signature base ends with the <c>@signature-params</c> line, so the parameters are
/// signed too.</item>
/// <item>The docs' single <c>Agent-Auth</c> header, <c>sig1=:…:; label="sig1"; alg="…"; keyid="…"; created=…;
/// covered="@method @target-uri …"</c>, whose base is the component lines alone (as the docs' SDKs build it). Its
/// parameters are not signed; the replay memory and the short-lived tokens a signed body carries bound what a copy can
/// do.</item>
/// </list>
/// </summary>
public sealed record MessageSignature(
    string Label,
    IReadOnlyList<string> Covered,
    long? Created,
    long? Expires,
    string? KeyId,
    string? Algorithm,
    byte[] Value,
    bool ParametersSigned,
    string? SignatureParams)
{
    public const string AgentAuthHeader = "Agent-Auth";
    public const string SignatureInputHeader = "Signature-Input";
    public const string SignatureHeader = "Signature";
    private const int MaxHeaderLength = 8 * 1024;
    private const int MaxComponents = 20;

    /// <summary>The request's signature, or why there is none that can be read.</summary>
    public static (MessageSignature? Signature, string? Problem) Read(HttpRequest request)
    {
        var agentAuth = request.Headers[AgentAuthHeader];
        var input = request.Headers[SignatureInputHeader];
        if (input.Count > 0)
        {
            return ReadStandard(input.ToString(), request.Headers[SignatureHeader].ToString());
        }

        return agentAuth.Count == 1 ? ReadAgentAuth(agentAuth.ToString()) : (null, "Sign the request: an Agent-Auth header, or Signature-Input and Signature (RFC 9421).");
    }

    /// <summary>
    /// The bytes that were signed, from the request as received: null with the reason when a covered component is not
    /// there. <paramref name="targetUri"/> is the URL the caller addressed (behind the gateway, the public one).
    /// </summary>
    public (byte[]? Base, string? Problem) BaseOf(HttpRequest request, string targetUri)
    {
        var builder = new StringBuilder();
        foreach (var component in Covered)
        {
            string? value = component switch
            {
                "@method" => request.Method.ToUpperInvariant(),
                "@target-uri" => targetUri,
                "@authority" => new Uri(targetUri).Authority.ToLowerInvariant(),
                "@scheme" => new Uri(targetUri).Scheme,
                "@path" => new Uri(targetUri).AbsolutePath,
                "@query" => request.QueryString.HasValue ? request.QueryString.Value : "?",
                "@request-target" => new Uri(targetUri).PathAndQuery,
                _ when component.StartsWith('@') => null,
                _ => request.Headers.TryGetValue(component, out var values) && values.Count > 0
                    ? string.Join(", ", values.Select(v => v?.Trim()))
                    : null,
            };
            if (value is null)
            {
                return (null, $"The signature covers '{component}', which this request does not have.");
            }

            builder.Append('"').Append(component).Append("\": ").Append(value).Append('\n');
        }

        if (ParametersSigned)
        {
            builder.Append("\"@signature-params\": ").Append(SignatureParams);
        }
        else if (builder.Length > 0)
        {
            builder.Length--;
        }

        return (Encoding.UTF8.GetBytes(builder.ToString()), null);
    }

    private static (MessageSignature?, string?) ReadStandard(string input, string signatures)
    {
        if (input.Length > MaxHeaderLength || signatures.Length > MaxHeaderLength)
        {
            return (null, "The signature headers are too long.");
        }

        // The first signature the input names; a request carries one signature for us.
        var equals = input.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 || input.Length < equals + 2 || input[equals + 1] != '(')
        {
            return (null, "Signature-Input must read label=(\"component\" …);params.");
        }

        var label = input[..equals].Trim();
        var close = input.IndexOf(')', equals);
        if (close < 0)
        {
            return (null, "Signature-Input's component list is not closed.");
        }

        var next = input.IndexOf(',', close);
        var members = input[(equals + 1)..(next < 0 ? input.Length : next)].Trim();
        var covered = new List<string>();
        foreach (var item in input[(equals + 2)..close].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (item.Length < 2 || item[0] != '"' || item[^1] != '"' || item.Contains(';'))
            {
                return (null, "Signature-Input names components as quoted strings without parameters.");
            }

            covered.Add(item[1..^1]);
        }

        var parameters = Parameters(input[(close + 1)..(next < 0 ? input.Length : next)]);
        if (parameters is null)
        {
            return (null, "Signature-Input's parameters cannot be read.");
        }

        var value = ValueOf(signatures, label);
        if (value is null)
        {
            return (null, $"The Signature header carries no signature labelled '{label}'.");
        }

        return Build(label, covered, parameters, value, parametersSigned: true, members);
    }

    private static (MessageSignature?, string?) ReadAgentAuth(string header)
    {
        if (header.Length > MaxHeaderLength)
        {
            return (null, "The Agent-Auth header is too long.");
        }

        var semicolon = header.IndexOf(';', StringComparison.Ordinal);
        var first = semicolon < 0 ? header : header[..semicolon];
        var equals = first.IndexOf('=', StringComparison.Ordinal);
        var value = equals > 0 ? Bytes(first[(equals + 1)..].Trim()) : null;
        var parameters = semicolon < 0 ? null : Parameters(header[semicolon..]);
        if (value is null || parameters is null)
        {
            return (null, "The Agent-Auth header must read label=:base64:; keyid=\"…\"; created=…; covered=\"…\".");
        }

        var covered = parameters.TryGetValue("covered", out var list) ? list.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList() : [];
        var label = parameters.TryGetValue("label", out var named) ? named : first[..equals].Trim();
        return Build(label, covered, parameters, value, parametersSigned: false, signatureParams: null);
    }

    private static (MessageSignature?, string?) Build(
        string label, List<string> covered, Dictionary<string, string> parameters, byte[] value, bool parametersSigned, string? signatureParams)
    {
        if (covered.Count == 0 || covered.Count > MaxComponents || covered.Distinct(StringComparer.Ordinal).Count() != covered.Count
            || covered.Any(c => c.Length is 0 or > 100 || c.Any(char.IsAsciiLetterUpper) || c.Any(char.IsWhiteSpace)))
        {
            return (null, $"The signature must cover 1 to {MaxComponents} distinct lower-case components.");
        }

        if (!TryTime(parameters, "created", out var created) || !TryTime(parameters, "expires", out var expires))
        {
            return (null, "The signature's 'created' and 'expires' must be Unix times in seconds.");
        }

        return (new MessageSignature(label, covered, created, expires, parameters.GetValueOrDefault("keyid"), parameters.GetValueOrDefault("alg"), value, parametersSigned, signatureParams), null);
    }

    private static bool TryTime(Dictionary<string, string> parameters, string name, out long? seconds)
    {
        seconds = null;
        if (!parameters.TryGetValue(name, out var text))
        {
            return true;
        }

        var parsed = long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value);
        seconds = parsed ? value : null;
        return parsed;
    }

    /// <summary><c>;name=value;name="value"</c> (RFC 8941 parameters, spaces tolerated as the docs write them).</summary>
    private static Dictionary<string, string>? Parameters(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var position = 0;
        while (position < text.Length)
        {
            while (position < text.Length && (text[position] == ' ' || text[position] == ';'))
            {
                position++;
            }

            if (position >= text.Length)
            {
                break;
            }

            var equals = text.IndexOf('=', position);
            if (equals < 0)
            {
                return null;
            }

            var name = text[position..equals].Trim();
            position = equals + 1;
            string value;
            if (position < text.Length && text[position] == '"')
            {
                var end = text.IndexOf('"', position + 1);
                if (end < 0)
                {
                    return null;
                }

                value = text[(position + 1)..end];
                position = end + 1;
            }
            else
            {
                var end = text.IndexOf(';', position);
                value = (end < 0 ? text[position..] : text[position..end]).Trim();
                position = end < 0 ? text.Length : end;
            }

            if (name.Length == 0 || !result.TryAdd(name, value))
            {
                return null;
            }
        }

        return result;
    }

    /// <summary>The byte sequence <c>:base64:</c> of <paramref name="label"/> in a Signature header's dictionary.</summary>
    private static byte[]? ValueOf(string header, string label)
    {
        foreach (var member in header.Split(','))
        {
            var equals = member.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && member[..equals].Trim() == label)
            {
                var value = member[(equals + 1)..].Trim();
                var semicolon = value.IndexOf(';', StringComparison.Ordinal);
                return Bytes(semicolon < 0 ? value : value[..semicolon]);
            }
        }

        return null;
    }

    private static byte[]? Bytes(string item)
    {
        if (item.Length < 3 || item[0] != ':' || item[^1] != ':')
        {
            return null;
        }

        try
        {
            var bytes = Convert.FromBase64String(item[1..^1]);
            return bytes.Length is > 0 and <= 1024 ? bytes : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
