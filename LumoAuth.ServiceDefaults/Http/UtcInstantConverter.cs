using System.Text.Json;
using System.Text.Json.Serialization;

namespace LumoAuth.ServiceDefaults.Http;

/// <summary>
/// Every instant an API answers is in UTC: one sent as <c>…-05:00</c> is stored as the same instant in UTC, and the
/// answer to the request that sent it says so, like every later read.
/// </summary>
public sealed class UtcInstantConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToUniversalTime());
}
