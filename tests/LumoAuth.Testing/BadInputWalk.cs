using System.Collections;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace LumoAuth.Testing;

/// <summary>
/// Sends bad input to every endpoint of a service's route table (so a new endpoint joins by itself): malformed and
/// wrong-typed JSON, each field of the declared body alone set to an edge value (null, empty, huge, negative, the ends
/// of the calendar), garbage form fields, odd route ids and query values, and broken credentials. Every answer must be
/// below 500 and, when JSON, in the error format its path documents: the <c>{error:true,status,code,message}</c>
/// envelope, the OAuth <c>{error}</c> object under <c>/oauth/</c> and <c>/connect/</c>, SCIM's error under <c>/scim</c>.
/// A body that is not JSON at all, sent to an endpoint that declares a JSON body, must be a 400.
/// </summary>
public sealed class BadInputWalk(IServiceProvider services, Func<HttpClient> client, Func<string, string?> routeValue)
{
    /// <summary>Only endpoints whose pattern passes this are walked (e.g. a prefix).</summary>
    public Func<string, bool> Include { get; init; } = _ => true;

    /// <summary>Extra headers on every request (an API key, a bearer token).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>Told each endpoint walked, with the requests it took and how long (to find a slow walk).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Requests sent so far: a walk that sent few has walked nothing.</summary>
    public int Sent => _sent;

    /// <summary>
    /// Endpoints walked at once. Each endpoint's requests go one after another; several endpoints at a time keep the
    /// services busy while a request waits (and shake out races between endpoints, which must not be 500s either).
    /// </summary>
    public int Concurrency { get; init; } = 4;

    private int _sent;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _failures = new();

    /// <param name="Pattern">The endpoint's route pattern, named in failures.</param>
    /// <param name="AnswersPages">The endpoint is anonymous: a browser page or protocol endpoint whose non-JSON answers are its own format.</param>
    private sealed record Target(string Pattern, bool AnswersPages);

    private static readonly string[] OddIds =
    [
        "x", "-1", "0", "99999999999999999999999", "00000000-0000-0000-0000-000000000000", new string('a', 600), "a b", "%C3%BC",
    ];

    private static readonly string[] OddQueryValues =
        ["abc", "-1", "99999999999999999999", new string('q', 5000), "' or 1=1 --", "2026-13-45", "2026-01-01T00:00:00-05:00"];

    /// <summary>Names the form endpoints of the suite read (OAuth, hosted pages): each is sent alone with odd values.</summary>
    private static readonly string[] FormFields =
    [
        "grant_type", "client_id", "client_secret", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "resource", "audience",
        "token", "token_type_hint", "subject_token", "subject_token_type", "actor_token", "actor_token_type", "requested_token_type",
        "client_assertion", "client_assertion_type", "device_code", "user_code", "auth_req_id", "request_uri", "request", "response_type",
        "response_mode", "state", "nonce", "prompt", "max_age", "login_hint", "login_hint_token", "id_token_hint", "post_logout_redirect_uri",
        "authorization_details", "dpop_jkt", "acr_values", "claims", "code_challenge", "code_challenge_method", "binding_message",
        "requested_expiry", "username", "email", "password", "otp", "returnUrl", "__RequestVerificationToken", "name", "action", "decision",
    ];

    private static readonly string[] GrantTypes =
    [
        "authorization_code", "refresh_token", "client_credentials", "password", "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:device_code", "urn:openid:params:grant-type:ciba", "urn:ietf:params:oauth:grant-type:jwt-bearer", "nope",
    ];

    private static readonly string[] OddFormValues =
    [
        "", new string('f', 20_000), "\u0000", "ü€😀", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "[{\"type\":1}]", "{", "-1", "99999999999999999999",
        "http://[::1", "javascript:alert(1)",
    ];

    private static readonly string[] OddAuthorizations =
    [
        "Basic", "Basic !!!", "Basic " + B64("nocolon"), "Basic " + B64(":"), "Basic " + B64("%zz:%zz"), "Basic " + B64(new string('c', 5000) + ":x"),
        "Bearer", "Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "DPoP x", "Negotiate abc", "Bearer " + new string('t', 6000),
    ];

    public IReadOnlyList<RouteEndpoint> Endpoints() =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && Include(raw) && e.Metadata.GetMetadata<HttpMethodMetadata>() is not null
                        && !raw.EndsWith("openapi.json", StringComparison.Ordinal)) // the framework's document endpoint
            .ToList();

    /// <summary>Walks every endpoint and fails the test with the bad answers (the first 60), or when fewer than <paramref name="atLeast"/> requests went out.</summary>
    public async Task AssertEveryAnswerIsCleanAsync(int atLeast)
    {
        var failures = await WalkAsync();
        Assert.True(failures.Count == 0, $"{failures.Count} bad answers:\n" + string.Join('\n', failures.Take(60)));
        Assert.True(Sent >= atLeast, $"only {Sent} requests sent");
    }

    /// <summary>Walks every endpoint; returns one line per answer that broke the rules.</summary>
    public async Task<IReadOnlyList<string>> WalkAsync()
    {
        // Deletions last: they may remove what the other endpoints' ids point at.
        var walks = Endpoints()
            .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Where(m => m != HttpMethods.Head && m != HttpMethods.Options).Select(m => (Endpoint: e, Method: m)))
            .ToLookup(w => w.Method == HttpMethods.Delete);
        foreach (var group in new[] { walks[false], walks[true] })
        {
            await Parallel.ForEachAsync(group, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (walk, _) =>
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                var sent = await WalkAsync(walk.Endpoint, walk.Method);
                Log?.Invoke($"{walk.Method} {walk.Endpoint.RoutePattern.RawText}: {sent} requests, {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms");
            });
        }

        return [.. _failures];
    }

    /// <summary>Walks one endpoint's method; returns the requests it sent.</summary>
    private async Task<int> WalkAsync(RouteEndpoint endpoint, string method)
    {
        var pattern = endpoint.RoutePattern.RawText!;
        var target = new Target(pattern, endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null);
        var sent = 0;
        async Task SendAsync(string path, HttpContent? content, bool expect400 = false, string? authorization = null, Dictionary<string, string>? extraHeaders = null)
        {
            if (await SendOneAsync(method, path, content, target, expect400, authorization, extraHeaders))
            {
                sent++;
            }
        }
        var path = Fill(pattern, _ => null);
        var hasBody = method is "POST" or "PUT" or "PATCH";

        // Odd ids in every route parameter but the tenant's.
        foreach (var parameter in endpoint.RoutePattern.Parameters.Where(p => p.Name != "tenantSlug"))
        {
            foreach (var odd in OddIds)
            {
                await SendAsync(Fill(pattern, name => name == parameter.Name ? odd : null), hasBody ? Json("{}") : null);
            }
        }

        // Odd values in every query parameter the handler reads.
        foreach (var name in QueryParameters(endpoint))
        {
            foreach (var odd in OddQueryValues)
            {
                await SendAsync($"{path}?{name}={Uri.EscapeDataString(odd)}", hasBody ? Json("{}") : null);
            }
        }

        await SendAsync($"{path}?page=-5&limit=1000000&sortBy=%27&sortDir=sideways&search={new string('s', 3000)}", hasBody ? Json("{}") : null);
        // An offset past int.MaxValue; instants with offsets other than UTC (which Npgsql refuses to write as timestamptz).
        await SendAsync($"{path}?page=30000000&limit=100&startDate=2026-01-01T00:00:00-05:00&endDate=2026-02-01T00:00:00%2B02:00", hasBody ? Json("{}") : null);

        // Broken credentials, on the endpoint as it is otherwise called.
        foreach (var authorization in OddAuthorizations)
        {
            await SendAsync(path, hasBody ? Json("{}") : null, authorization: authorization);
        }

        await SendAsync(path, hasBody ? Json("{}") : null, extraHeaders: new() { ["DPoP"] = "not-a-jwt", ["Client-Cert"] = ":bm90LWEtY2VydA==:" });

        if (!hasBody)
        {
            return sent;
        }

        var declared = endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is { RequestType: { } type } accepts
                       && accepts.ContentTypes.Any(c => c.Contains("json", StringComparison.OrdinalIgnoreCase))
            ? type
            : null;

        // Not JSON at all: an endpoint that declares a JSON body answers 400.
        foreach (var text in new[] { "{", "{\"a\":", "\u00ff\u00fe", "<xml/>" })
        {
            await SendAsync(path, Json(text), expect400: declared is not null);
        }

        // Invalid UTF-8 in a string (System.Text.Json skips an unknown property's value unread, so no 400 is required).
        await SendAsync(path, new ByteArrayContent([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]) { Headers = { ContentType = new("application/json") } });
        foreach (var text in new[]
                 {
                     "[]", "\"text\"", "null", "42", "true", "{}", new string('[', 300) + new string(']', 300), "{\"a\":" + new string('[', 100) + new string(']', 100) + "}",
                     // A repeated name; numbers no double holds (an opaque body reaches the handler as it is).
                     "{\"a\":1,\"a\":2}", "{\"a\":1e400,\"b\":[-1e400],\"c\":{\"d\":1e309}}",
                 })
        {
            await SendAsync(path, Json(text));
        }

        await SendAsync(path, new StringContent("{}", Encoding.UTF8, "text/plain"));
        await SendAsync(path, Json("{\"x\":\"" + new string('h', 3 * 1024 * 1024) + "\"}"));

        if (declared is not null && !IsOpaque(declared))
        {
            var plausible = Plausible(declared, 0);
            await SendAsync(path, Json(plausible.ToJsonString()));
            if (plausible.ToJsonString() is { Length: > 2 } members)
            {
                await SendAsync(path, Json("{" + members[1..^1] + "," + members[1..^1] + "}")); // every name twice
            }

            foreach (var (name, propertyType) in JsonProperties(declared))
            {
                foreach (var odd in OddValues(propertyType))
                {
                    var body = (JsonObject)plausible.DeepClone();
                    body[name] = odd?.DeepClone();
                    await SendAsync(path, Json(body.ToJsonString()));
                }
            }
        }

        // Form bodies: the OAuth endpoints and hosted pages read these (they are the anonymous ones).
        if (declared is not null || !(pattern.Contains("/oauth/", StringComparison.Ordinal) || pattern.Contains("/connect/", StringComparison.Ordinal)
                                      || endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null))
        {
            return sent;
        }

        await SendAsync(path, Form([]));
        await SendAsync(path, new StringContent("a=%zz&b=%&=&&==", Encoding.UTF8, "application/x-www-form-urlencoded"));
        await SendAsync(path, new StringContent("grant_type=client_credentials&grant_type=authorization_code&scope=a&scope=b", Encoding.UTF8, "application/x-www-form-urlencoded"));
        foreach (var field in FormFields)
        {
            foreach (var odd in OddFormValues)
            {
                await SendAsync(path, Form([new(field, odd)]));
            }
        }

        if (pattern.EndsWith("/oauth/token", StringComparison.Ordinal))
        {
            foreach (var grant in GrantTypes)
            {
                foreach (var field in FormFields)
                {
                    foreach (var odd in OddFormValues.Take(6))
                    {
                        await SendAsync(path, Form([new("grant_type", grant), new(field, odd)]));
                    }
                }
            }
        }

        return sent;
    }

    /// <summary>Sends one request and judges its answer; false when it could not be sent.</summary>
    private async Task<bool> SendOneAsync(string method, string path, HttpContent? content, Target target, bool expect400, string? authorization,
        Dictionary<string, string>? extraHeaders)
    {
        var pattern = target.Pattern;
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = content };
        foreach (var (name, value) in Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (authorization is not null)
        {
            request.Headers.Remove("X-API-Key");
            request.Headers.Remove("Authorization");
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        foreach (var (name, value) in extraHeaders ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        var sent = content is null ? "" : Shorten(await content.ReadAsStringAsync());
        using var http = client();
        HttpResponseMessage response;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            response = await http.SendAsync(request);
            if (System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds > 500)
            {
                Log?.Invoke($"  slow: {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:F0} ms {method} {Shorten(path)} {sent} {authorization}");
            }
        }
        catch (Exception exception)
        {
            _failures.Enqueue($"{method} {pattern} [{Shorten(path)}] {sent}: threw {exception.GetType().Name}: {exception.Message}");
            return false;
        }

        Interlocked.Increment(ref _sent);
        using (response)
        {
            var status = (int)response.StatusCode;
            var body = await response.Content.ReadAsStringAsync();
            // RFC 7644 §3.11: 501 is SCIM's answer to /Me for a caller that is not a user.
            // A dependency that is down is answered 503 service_unavailable by design (a service alone under test has no peers).
            var problem = status >= 500 && !(status == 501 && path.Contains("/Me", StringComparison.Ordinal) && IsScim(path))
                          && !(status == 503 && (body.Contains("\"service_unavailable\"", StringComparison.Ordinal) || body.Contains("\"temporarily_unavailable\"", StringComparison.Ordinal)))
                ? "server error"
                : expect400 && status != 400 ? "expected 400"
                : status >= 400 ? ShapeProblem(path, status, response.Content.Headers.ContentType?.MediaType, body, target.AnswersPages)
                : null;
            if (problem is not null)
            {
                _failures.Enqueue($"{method} {pattern} [{Shorten(path)}] {sent} {authorization}: {status} {problem}: {Shorten(body)}");
            }
        }

        return true;
    }

    /// <summary>Null when a JSON error body is in the format the path documents (non-JSON answers: hosted pages, not judged).</summary>
    private static string? ShapeProblem(string path, int status, string? mediaType, string body, bool page)
    {
        if (mediaType is null || !mediaType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            return body.Length == 0 || mediaType is "text/html" || page ? null : $"not JSON ({mediaType})";
        }

        JsonObject? json;
        try
        {
            json = JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            return "unparseable JSON";
        }

        if (json is null)
        {
            return "not a JSON object";
        }

        if (IsScim(path))
        {
            return json["schemas"]?.ToJsonString().Contains("urn:ietf:params:scim:api:messages:2.0:Error", StringComparison.Ordinal) == true
                   && json["status"]?.ToString() == status.ToString(System.Globalization.CultureInfo.InvariantCulture)
                ? null
                : "not a SCIM error";
        }

        var oauthPath = LumoAuth.ServiceDefaults.Errors.ErrorWriter.IsOAuthPath(new PathString(path.Split('?')[0]));
        if (json["error"] is JsonValue error && error.TryGetValue<string>(out var code))
        {
            return oauthPath && code.Length > 0 ? null : "OAuth error off an OAuth path";
        }

        if (oauthPath)
        {
            return "not an OAuth error on an OAuth path";
        }

        return json["error"]?.GetValueKind() == JsonValueKind.True && json["status"]?.GetValueKind() == JsonValueKind.Number
               && json["status"]!.GetValue<int>() == status && json["code"] is JsonValue c && c.TryGetValue<string>(out var envelopeCode)
               && envelopeCode.Length > 0 && json["message"] is JsonValue m && m.TryGetValue<string>(out var message) && message.Length > 0
            ? null
            : "not the error envelope";
    }

    private static bool IsScim(string path) => LumoAuth.ServiceDefaults.Errors.ErrorWriter.IsScimPath(new PathString(path.Split('?')[0]));

    private string Fill(string pattern, Func<string, string?> odd)
    {
        var path = new StringBuilder();
        foreach (var segment in pattern.Split('/'))
        {
            if (segment.StartsWith('{'))
            {
                var name = segment.Trim('{', '}').Split(':', '=', '?')[0].TrimStart('*');
                var value = odd(name) ?? routeValue(name) ?? "00000000-0000-0000-0000-000000000001";
                path.Append('/').Append(value.Contains('%') ? value : Uri.EscapeDataString(value));
            }
            else if (segment.Length > 0)
            {
                path.Append('/').Append(segment);
            }
        }

        return path.ToString();
    }

    /// <summary>Handler parameters of simple types that are neither route values nor the body: bound from the query.</summary>
    private static List<string> QueryParameters(RouteEndpoint endpoint)
    {
        if (endpoint.Metadata.GetMetadata<MethodInfo>() is not { } handler)
        {
            return [];
        }

        return handler.GetParameters()
            .Where(p => endpoint.RoutePattern.GetParameter(p.Name!) is null && IsSimple(p.ParameterType)
                        && p.GetCustomAttributes().All(a => a.GetType().Name is not ("FromServicesAttribute" or "FromKeyedServicesAttribute" or "FromBodyAttribute" or "FromHeaderAttribute")))
            .Select(p => p.GetCustomAttributes().FirstOrDefault(a => a.GetType().Name == "FromQueryAttribute") is { } fromQuery
                         && fromQuery.GetType().GetProperty("Name")?.GetValue(fromQuery) is string alias ? alias : p.Name!)
            .ToList();
    }

    private static bool IsSimple(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(Guid) || type == typeof(DateTimeOffset)
               || type == typeof(DateTime) || type == typeof(decimal) || type == typeof(string[]);
    }

    private static bool IsOpaque(Type type) =>
        type == typeof(JsonElement) || type == typeof(JsonNode) || type == typeof(JsonObject) || type == typeof(object) || type == typeof(string)
        || typeof(IDictionary).IsAssignableFrom(type) || type.IsPrimitive;

    private static IEnumerable<(string Name, Type Type)> JsonProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => (p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(p.Name), p.PropertyType));

    /// <summary>A body whose every field has a well-typed, ordinary value, so one odd field at a time gets past the rest.</summary>
    private static JsonObject Plausible(Type type, int depth)
    {
        var body = new JsonObject();
        foreach (var (name, propertyType) in JsonProperties(type))
        {
            body[name] = PlausibleValue(propertyType, depth);
        }

        return body;
    }

    private static JsonNode? PlausibleValue(Type type, int depth)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(string))
        {
            return "walk-value";
        }

        if (t == typeof(bool))
        {
            return true;
        }

        if (t.IsPrimitive || t == typeof(decimal))
        {
            return 1;
        }

        if (t == typeof(Guid))
        {
            return Guid.NewGuid().ToString();
        }

        if (t == typeof(DateTimeOffset) || t == typeof(DateTime))
        {
            return DateTimeOffset.UtcNow.AddHours(1).ToString("O");
        }

        if (t.IsEnum)
        {
            return JsonValue.Create(JsonNamingPolicy.CamelCase.ConvertName(Enum.GetNames(t)[0]));
        }

        if (ElementType(t) is { } element)
        {
            return new JsonArray(PlausibleValue(element, depth + 1));
        }

        return IsOpaque(t) || depth > 3 ? new JsonObject() : Plausible(t, depth + 1);
    }

    private static IEnumerable<JsonNode?> OddValues(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        yield return null;
        yield return "";
        yield return new JsonObject();
        yield return new JsonArray();
        if (t == typeof(string))
        {
            yield return new string('s', 100_000);
            yield return "\u0000\ud83d";
            yield return "  ";
            yield return "http://169.254.169.254/latest";
        }
        else if (t.IsPrimitive || t == typeof(decimal))
        {
            yield return -1;
            yield return 0;
            yield return long.MaxValue;
            yield return 1e300;
        }
        else if (t == typeof(DateTimeOffset) || t == typeof(DateTime))
        {
            yield return "0001-01-01T00:00:00Z";
            yield return "9999-12-31T23:59:59Z";
            yield return "2030-01-01T00:00:00-05:00";
        }
        else if (ElementType(t) is { } element)
        {
            yield return new JsonArray((JsonNode?)null);
            yield return new JsonArray(Enumerable.Range(0, 5000).Select(i => PlausibleValue(element, 3)).ToArray());
            yield return new JsonArray(OddValues(element).Select(v => v?.DeepClone()).ToArray());
        }
        else if (t == typeof(JsonElement) || t == typeof(JsonNode) || t == typeof(JsonObject) || t == typeof(object) || typeof(IDictionary).IsAssignableFrom(t))
        {
            // Kept as written: 1e400 is valid JSON that no double holds.
            yield return JsonNode.Parse("1e400");
            yield return JsonNode.Parse("{\"x\":1e400,\"y\":[1e309]}");
        }
        else if (!IsOpaque(t))
        {
            foreach (var (name, propertyType) in JsonProperties(t).Take(8))
            {
                foreach (var odd in OddValues(propertyType).Take(6))
                {
                    var nested = Plausible(t, 2);
                    nested[name] = odd?.DeepClone();
                    yield return nested;
                }
            }
        }
    }

    private static Type? ElementType(Type type) =>
        type == typeof(string) ? null
        : type.IsArray ? type.GetElementType()
        : type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) && !typeof(IDictionary).IsAssignableFrom(type) ? type.GetGenericArguments()[0]
        : null;

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static FormUrlEncodedContent Form(KeyValuePair<string, string>[] fields) => new(fields);

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string Shorten(string text) => text.Length <= 160 ? text : text[..160] + $"…({text.Length})";
}
