using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Features.Relationships;
using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.Authorization.Features.Checks;

/// <summary>
/// Where a list-objects or list-subjects page resumes: after <paramref name="After"/>, answered from at least
/// <paramref name="Revision"/> (the revision the previous page was answered at). Both are null on the first page;
/// a token from before tokens were bound (base64 of the last item alone) carries no revision.
/// </summary>
public readonly record struct ListCursor(string? After, long? Revision)
{
    /// <summary>
    /// The request's own consistency, raised to this cursor's revision, so no page answers from an index older than
    /// the page before it. A stricter request (fully consistent, or a newer token) keeps its own; a consistency token
    /// of another store is left alone, for <see cref="ZanzibarReads"/> to refuse as it always does.
    /// </summary>
    public ConsistencyRequirement Raise(ConsistencyRequirement requested, Guid tenantId)
    {
        if (Revision is not { } revision)
        {
            return requested;
        }

        var tag = ConsistencyToken.Tag(tenantId);
        return requested.Mode switch
        {
            ConsistencyMode.MinimizeLatency => new ConsistencyRequirement(ConsistencyMode.AtLeastAsFresh, revision, tag),
            ConsistencyMode.AtLeastAsFresh when requested.MinRevision < revision && (requested.Store is null || requested.Store == tag) =>
                new ConsistencyRequirement(ConsistencyMode.AtLeastAsFresh, revision, tag),
            _ => requested,
        };
    }
}

/// <summary>
/// Continuation tokens of the list endpoints. A token names the query it belongs to (a short hash of everything that
/// decides the list: tenant, endpoint, object or object type, relation, subject or subject types, context and
/// contextual tuples), the revision its page was answered at and the last item handed out. It is opaque, not secret:
/// base64url of a small JSON object behind a version prefix, which base64 (the unbound tokens before it) never holds.
/// Hash and checksum are no signature (there is no secret): they stop a token from being resumed against another query,
/// or after it was altered, by mistake; a caller who forges one gains nothing the list endpoint would not answer anyway.
/// </summary>
public static class ListContinuation
{
    public const string Field = "continuation_token";
    private const string Prefix = "lc1.";
    private const int HashBytes = 12;
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The short hash of a list query; <paramref name="parts"/> are the query's normalised fields in a fixed order.</summary>
    public static string QueryHash(
        Guid tenantId,
        string endpoint,
        IEnumerable<string> parts,
        IReadOnlyDictionary<string, object?>? context,
        IReadOnlyList<RelationshipTuple> contextualTuples)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            writer.WriteStringValue(endpoint);
            writer.WriteStringValue(tenantId.ToString("N"));
            foreach (var part in parts)
            {
                writer.WriteStringValue(part);
            }

            WriteValue(writer, context);

            // The order contextual tuples come in changes nothing about the answer, so it changes nothing about the hash.
            writer.WriteStartArray();
            foreach (var tuple in contextualTuples.Select(Canonical).Order(StringComparer.Ordinal))
            {
                writer.WriteStringValue(tuple);
            }

            writer.WriteEndArray();
            writer.WriteEndArray();
        }

        return Base64Url.EncodeToString(SHA256.HashData(buffer.WrittenSpan).AsSpan(0, HashBytes));
    }

    public static string Issue(string queryHash, long revision, string last) =>
        Prefix + Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(new Token(revision, queryHash, last, Checksum(queryHash, revision, last))));

    /// <summary>
    /// Reads <paramref name="token"/> (null on a first page). A token of another query, or one this service did not
    /// issue, is refused; an unbound token of the earlier format resumes after its item with no revision to honour.
    /// </summary>
    public static bool TryRead(string? token, string queryHash, out ListCursor cursor, out ApiError? error)
    {
        cursor = default;
        error = null;
        if (token is null)
        {
            return true;
        }

        if (token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            Token? parsed;
            try
            {
                parsed = JsonSerializer.Deserialize<Token>(Base64Url.DecodeFromChars(token.AsSpan(Prefix.Length)));
            }
            catch (Exception e) when (e is FormatException or JsonException)
            {
                parsed = null;
            }

            if (parsed is not { Revision: >= 0, Query: not null, After: not null, Check: not null }
                || parsed.Check != Checksum(parsed.Query, parsed.Revision, parsed.After)
                || !IsItem(parsed.After))
            {
                return Refuse("is not a token this service issued", out error);
            }

            if (parsed.Query != queryHash)
            {
                return Refuse("belongs to another query (resume a listing with the request that started it)", out error);
            }

            cursor = new ListCursor(parsed.After, parsed.Revision);
            return true;
        }

        // Unbound tokens issued before this format: base64 of the last item. Clients paging across a deploy keep going.
        string after;
        try
        {
            after = Strict.GetString(Convert.FromBase64String(token));
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            return Refuse("is not a token this service issued", out error);
        }

        if (!IsItem(after))
        {
            return Refuse("is not a token this service issued", out error);
        }

        cursor = new ListCursor(after, null);
        return true;
    }

    /// <summary>Every item a list hands out is an object (<c>type:id</c>) or a subject, both of which parse as a subject.</summary>
    private static bool IsItem(string text) => SubjectRef.TryParse(text, out _);

    /// <summary>Catches a token altered in transit or by hand (a changed item or revision); no secret, so no signature.</summary>
    private static string Checksum(string queryHash, long revision, string after) =>
        Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{queryHash}\n{revision}\n{after}"))).AsSpan(0, 8));

    private static bool Refuse(string problem, out ApiError? error)
    {
        error = ZanzibarInput.Invalid(Field, problem);
        return false;
    }

    private static string Canonical(RelationshipTuple tuple)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            writer.WriteStringValue(tuple.Key.ToString());
            if (tuple.Condition is { } condition)
            {
                writer.WriteStringValue(condition.Name);
                WriteValue(writer, condition.Context);
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A context value as JSON with its keys in ordinal order, so equal contexts hash alike however they were written.</summary>
    private static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case long number:
                writer.WriteNumberValue(number);
                break;
            case ulong number:
                writer.WriteNumberValue(number);
                break;
            case double number:
                writer.WriteNumberValue(number);
                break;
            case IReadOnlyDictionary<string, object?> map:
                writer.WriteStartObject();
                foreach (var (key, item) in map.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    WriteValue(writer, item);
                }

                writer.WriteEndObject();
                break;
            case IEnumerable<object?> list:
                writer.WriteStartArray();
                foreach (var item in list)
                {
                    WriteValue(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private sealed record Token(
        [property: JsonPropertyName("r")] long Revision,
        [property: JsonPropertyName("q")] string? Query,
        [property: JsonPropertyName("a")] string? After,
        [property: JsonPropertyName("c")] string? Check);
}
