using System.Text.Json.Nodes;

namespace LumoAuth.Admin.Features.Scim;

/// <summary>
/// RFC 7644 §3.7 Bulk: operations run in order, each on its own (one failure does not undo the others);
/// <c>bulkId:…</c> references in paths and data resolve to the ids created in the request (an operation naming one
/// created later waits for it), a bulkId declared twice is refused, and processing stops once <c>failOnErrors</c>
/// operations have failed.
/// </summary>
public static class ScimBulk
{
    public static async Task<ScimResult> ExecuteAsync(ScimService scim, JsonNode? body, CancellationToken cancellationToken)
    {
        if (body is not JsonObject request || request["Operations"] is not JsonArray operations)
        {
            throw ScimException.InvalidSyntax("a BulkRequest needs an 'Operations' array");
        }

        if (request["schemas"] is not JsonArray schemas || !schemas.Any(s => s?.ToString() == ScimSchemas.BulkRequest))
        {
            throw ScimException.InvalidSyntax($"schemas must contain {ScimSchemas.BulkRequest}");
        }

        if (operations.Count > ScimSchemas.MaxBulkOperations)
        {
            throw new ScimException(413, null, $"at most {ScimSchemas.MaxBulkOperations} operations per request");
        }

        var failOnErrors = request["failOnErrors"] is JsonValue f && f.TryGetValue<int>(out var limit) && limit > 0 ? limit : int.MaxValue;
        var created = new Dictionary<string, string>(StringComparer.Ordinal);
        // The bulkIds POST operations declare: a reference to one not created yet waits for it (a forward reference).
        var declared = operations.OfType<JsonObject>()
            .Where(o => string.Equals(o["method"]?.ToString(), "POST", StringComparison.OrdinalIgnoreCase) && o["bulkId"] is not null)
            .Select(o => o["bulkId"]!.ToString()).ToHashSet(StringComparer.Ordinal);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        var results = new JsonObject?[operations.Count];
        var waiting = new List<int>();
        var errors = 0;
        for (var index = 0; index < operations.Count && errors < failOnErrors; index++)
        {
            if (await RunOneAsync(scim, operations[index], created, declared, claimed, lastPass: false, cancellationToken) is not { } result)
            {
                waiting.Add(index);
                continue;
            }

            results[index] = result;
            errors += result["response"] is null ? 0 : 1;
        }

        // RFC 7644 §3.7.2: forward references are resolved by running what waited once what it names exists; what still
        // cannot resolve (a cycle, or an operation that failed) is refused.
        for (var progress = true; waiting.Count > 0 && progress && errors < failOnErrors;)
        {
            progress = false;
            foreach (var index in waiting.ToList())
            {
                if (await RunOneAsync(scim, operations[index], created, declared, claimed, lastPass: false, cancellationToken) is { } result)
                {
                    results[index] = result;
                    errors += result["response"] is null ? 0 : 1;
                    waiting.Remove(index);
                    progress = true;
                }
            }
        }

        foreach (var index in waiting)
        {
            if (errors >= failOnErrors)
            {
                break;
            }

            results[index] = await RunOneAsync(scim, operations[index], created, declared, claimed, lastPass: true, cancellationToken);
            errors++;
        }

        return new ScimResult(200, new JsonObject
        {
            ["schemas"] = new JsonArray(ScimSchemas.BulkResponse),
            ["Operations"] = new JsonArray([.. results.OfType<JsonObject>()]),
        });
    }

    /// <summary>
    /// One operation's result, or null when it names a bulkId another operation of the request has yet to create (unless
    /// <paramref name="lastPass"/>, when that is an error).
    /// </summary>
    private static async Task<JsonObject?> RunOneAsync(
        ScimService scim, JsonNode? node, Dictionary<string, string> created, HashSet<string> declared, HashSet<string> claimed, bool lastPass,
        CancellationToken cancellationToken)
    {
        var operation = node as JsonObject;
        var method = operation?["method"]?.ToString().ToUpperInvariant() ?? string.Empty;
        var bulkId = operation?["bulkId"]?.ToString();
        var result = new JsonObject { ["method"] = method };
        if (bulkId is not null)
        {
            result["bulkId"] = bulkId;
        }

        try
        {
            if (method == "POST" && bulkId is not null && claimed.Contains(bulkId))
            {
                throw ScimException.InvalidValue($"bulkId '{bulkId}' is already used by another operation of this request");
            }

            var outcome = await RunAsync(scim, operation, method, bulkId, created, cancellationToken);
            if (outcome.Location is not null)
            {
                result["location"] = outcome.Location;
            }

            if (outcome.Version is not null)
            {
                result["version"] = outcome.Version;
            }

            result["status"] = outcome.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (method == "POST" && bulkId is not null && outcome.Body?["id"]?.ToString() is { } id)
            {
                created[bulkId] = id;
            }
        }
        catch (UnresolvedBulkId pending) when (!lastPass && declared.Contains(pending.Reference))
        {
            // Not run yet: its bulkId stays free for when it runs.
            return null;
        }
        catch (UnresolvedBulkId pending)
        {
            return Failed(scim, result, new ScimException(409, "invalidValue",
                $"bulkId '{pending.Reference}' is not created by any operation of this request that succeeded (or the references form a cycle)"), Claim);
        }
        catch (ScimException ex)
        {
            return Failed(scim, result, ex, Claim);
        }

        Claim();
        return result;

        // Run, with or without success: a later POST with the same bulkId is refused.
        void Claim()
        {
            if (method == "POST" && bulkId is not null)
            {
                claimed.Add(bulkId);
            }
        }
    }

    private static JsonObject Failed(ScimService scim, JsonObject result, ScimException ex, Action claim)
    {
        claim();
        result["status"] = ex.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        result["response"] = ScimEndpoints.ErrorBody(ex.Status, ex.ScimType, ex.Message);
        scim.ResetAfterFailure();
        return result;
    }

    /// <summary>A <c>bulkId:</c> reference to nothing created yet.</summary>
    private sealed class UnresolvedBulkId(string reference) : Exception($"bulkId '{reference}' is not created yet")
    {
        public string Reference { get; } = reference;
    }

    private static async Task<ScimResult> RunAsync(
        ScimService scim, JsonObject? operation, string method, string? bulkId, Dictionary<string, string> created, CancellationToken cancellationToken)
    {
        if (operation is null)
        {
            throw ScimException.InvalidSyntax("each operation must be an object");
        }

        var path = Resolve(operation["path"]?.ToString() ?? throw ScimException.InvalidSyntax("each operation needs a 'path'"), created);
        var data = operation["data"] is { } d ? ResolveNode(d.DeepClone(), created) : null;
        var version = operation["version"]?.ToString();
        var segments = path.Trim('/').Split('/');
        var resource = segments[0];
        if (resource is not ("Users" or "Groups") || segments.Length > 2)
        {
            throw ScimException.InvalidPath($"'{path}' is not /Users or /Groups (with an id)");
        }

        var users = resource == "Users";
        var id = segments.Length == 2 ? segments[1] : null;
        return (method, id) switch
        {
            ("POST", null) when bulkId is null => throw ScimException.InvalidValue("a POST operation needs a bulkId"),
            ("POST", null) => users ? await scim.CreateUserAsync(data, cancellationToken) : await scim.CreateGroupAsync(data, cancellationToken),
            ("PUT", { } target) => users ? await scim.ReplaceUserAsync(target, data, version, cancellationToken) : await scim.ReplaceGroupAsync(target, data, version, cancellationToken),
            ("PATCH", { } target) => users ? await scim.PatchUserAsync(target, data, version, cancellationToken) : await scim.PatchGroupAsync(target, data, version, cancellationToken),
            ("DELETE", { } target) => users ? await scim.DeleteUserAsync(target, false, version, cancellationToken) : await scim.DeleteGroupAsync(target, false, version, cancellationToken),
            _ => throw ScimException.InvalidSyntax($"'{method} {path}' is not a bulk operation"),
        };
    }

    private static string Resolve(string text, Dictionary<string, string> created)
    {
        if (!text.Contains("bulkId:", StringComparison.Ordinal))
        {
            return text;
        }

        var start = text.IndexOf("bulkId:", StringComparison.Ordinal);
        var end = text.IndexOfAny(['/', '"', ' '], start);
        var reference = end < 0 ? text[(start + 7)..] : text[(start + 7)..end];
        return created.TryGetValue(reference, out var id)
            ? string.Concat(text.AsSpan(0, start), id, end < 0 ? string.Empty : text[end..])
            : throw new UnresolvedBulkId(reference);
    }

    private static JsonNode? ResolveNode(JsonNode? node, Dictionary<string, string> created) => node switch
    {
        JsonObject obj => Rebuild(obj, created),
        JsonArray array => new JsonArray(array.Select(i => ResolveNode(i?.DeepClone(), created)).ToArray()),
        JsonValue value when value.TryGetValue<string>(out var text) && text.StartsWith("bulkId:", StringComparison.Ordinal) => JsonValue.Create(Resolve(text, created)),
        _ => node,
    };

    private static JsonObject Rebuild(JsonObject obj, Dictionary<string, string> created)
    {
        var copy = new JsonObject();
        foreach (var (key, value) in obj)
        {
            copy[key] = ResolveNode(value?.DeepClone(), created);
        }

        return copy;
    }
}
