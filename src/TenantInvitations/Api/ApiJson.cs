using System.Text.Json;
using System.Text.Json.Serialization;

namespace TenantInvitations.Api;

// The API's JSON, in one place: responses, and the events and webhook bodies that must read exactly like them.
internal static class ApiJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.Converters.Add(new StrictEnumConverterFactory());
        options.NumberHandling = JsonNumberHandling.Strict;
        options.AllowDuplicateProperties = false;
        return options;
    }
}
