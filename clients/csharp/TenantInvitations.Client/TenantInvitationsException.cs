using System.Globalization;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Serialization;

namespace TenantInvitations.Client;

/// <summary>
/// An error answer of the service: its envelope's <c>error</c> (<see cref="Code"/>, <see cref="Exception.Message"/>,
/// <see cref="Info"/>), the status (<see cref="ApiException.ResponseStatusCode"/>) and the headers that matter to a caller.
/// An answer without the envelope (a proxy's HTML 502) is one too, with <see cref="Code"/> null.
/// </summary>
public sealed class TenantInvitationsException : ApiException, IParsable
{
    private string? message;

    /// <summary>Creates an empty one; Kiota fills it from the envelope.</summary>
    public TenantInvitationsException()
    {
    }

    /// <summary>Creates one with a message, and no envelope.</summary>
    public TenantInvitationsException(string message) : base(message) => this.message = message;

    /// <summary>Creates one with a message and its cause, and no envelope.</summary>
    public TenantInvitationsException(string message, Exception innerException) : base(message, innerException) => this.message = message;

    /// <summary>The envelope's <c>error.code</c>, such as <c>RateLimited</c> or <c>NotFound</c>; null when the answer had no envelope.</summary>
    public string? Code { get; private set; }

    /// <summary>The envelope's <c>error.message</c>, or a description of the status when there was none.</summary>
    public override string Message => message ?? $"The service answered HTTP {ResponseStatusCode} without its error envelope.";

    /// <summary>The envelope's <c>error.info</c>: each validation problem, the current status, the pending id, and so on.</summary>
    public IReadOnlyList<string> Info { get; private set; } = [];

    /// <summary>How long to wait before trying again, from the <c>Retry-After</c> header (seconds or an HTTP date).</summary>
    public TimeSpan? RetryAfter => Header("Retry-After") is { } value ? ParseRetryAfter(value, DateTimeOffset.UtcNow) : null;

    /// <summary>The <c>X-Trace-Id</c> header, to quote when reporting a 500.</summary>
    public string? TraceId => Header("X-Trace-Id");

    /// <summary>Kiota's factory for the error mapping.</summary>
    public static TenantInvitationsException CreateFromDiscriminatorValue(IParseNode parseNode) => new();

    /// <inheritdoc />
    public IDictionary<string, Action<IParseNode>> GetFieldDeserializers() => new Dictionary<string, Action<IParseNode>>
    {
        ["error"] = n =>
        {
            if (n.GetObjectValue(EnvelopeError.Create) is { } error)
            {
                Code = error.Code;
                message = string.IsNullOrEmpty(error.Message) ? null : error.Message;
                Info = error.Info;
            }
        },
    };

    /// <inheritdoc />
    public void Serialize(ISerializationWriter writer) => throw new NotSupportedException("An error answer is only read.");

    internal static TenantInvitationsException WithoutEnvelope(ApiException raised) => new()
    {
        ResponseStatusCode = raised.ResponseStatusCode,
        ResponseHeaders = raised.ResponseHeaders,
    };

    internal static TimeSpan? ParseRetryAfter(string value, DateTimeOffset now)
    {
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            // A value no TimeSpan holds is no useful wait either: null, as for one that can't be read.
            return seconds <= (long)TimeSpan.MaxValue.TotalSeconds ? TimeSpan.FromSeconds(seconds) : null;
        }
        if (DateTimeOffset.TryParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var at))
        {
            return at > now ? at - now : TimeSpan.Zero;
        }
        return null;
    }

    private string? Header(string name) =>
        ResponseHeaders.TryGetValue(name, out var values) ? values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))?.Trim() : null;

    // The envelope's error object, with the code as a string so that a code newer than this client still comes through.
    private sealed class EnvelopeError : IParsable
    {
        public string? Code { get; private set; }
        public string? Message { get; private set; }
        public IReadOnlyList<string> Info { get; private set; } = [];

        public static EnvelopeError Create(IParseNode parseNode) => new();

        public IDictionary<string, Action<IParseNode>> GetFieldDeserializers() => new Dictionary<string, Action<IParseNode>>
        {
            ["code"] = n => Code = n.GetStringValue(),
            ["message"] = n => Message = n.GetStringValue(),
            ["info"] = n => Info = [.. (n.GetCollectionOfPrimitiveValues<string>() ?? []).OfType<string>()],
        };

        public void Serialize(ISerializationWriter writer) => throw new NotSupportedException("An error answer is only read.");
    }
}
