using System.Text.Json;
using System.Text.Json.Serialization;

namespace TenantInvitations.Api;

// Enum values are their names (any case) and nothing else: System.Text.Json's own converter also reads
// numbers and comma lists such as "Owner,Member", which would let malformed input through as a valid value.
internal sealed class StrictEnumConverterFactory : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(StrictEnumConverter<>).MakeGenericType(typeToConvert))!;

    private sealed class StrictEnumConverter<T> : JsonConverter<T> where T : struct, Enum
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String && StrictEnum.TryParse<T>(reader.GetString(), out var value)
                ? value
                : throw new JsonException($"Expected one of {string.Join(", ", Enum.GetNames<T>())}."); // only on bad input

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
    }
}

internal static class StrictEnum
{
    public static bool TryParse<T>(string? text, out T value) where T : struct, Enum
    {
        value = default;
        return text is not null && Values<T>.ByName.TryGetValue(text, out value);
    }

    // Built once per enum type, not on every value read.
    private static class Values<T> where T : struct, Enum
    {
        public static readonly Dictionary<string, T> ByName =
            Enum.GetValues<T>().ToDictionary(v => v.ToString(), StringComparer.OrdinalIgnoreCase);
    }
}
