using System.Text.Json.Serialization;

namespace TenantInvitations.Api;

// Every JSON response, success or failure, has this shape (API.md).
internal sealed record Envelope<T>
{
    [JsonPropertyOrder(0)] public required bool IsSuccess { get; init; }
    [JsonPropertyOrder(1)] public bool IsFailure => !IsSuccess;
    [JsonPropertyOrder(2)] public ApiError? Error { get; init; }
    [JsonPropertyOrder(3)] public T? Value { get; init; }
}

// The failure envelope. A separate type so OpenAPI can describe error responses on their own.
internal sealed record ErrorEnvelope
{
    [JsonPropertyOrder(0)] public bool IsSuccess => false;
    [JsonPropertyOrder(1)] public bool IsFailure => true;
    [JsonPropertyOrder(2)] public required ApiError Error { get; init; }
    [JsonPropertyOrder(3)] public object? Value => null;
}

// Error information returned when the operation fails.
internal sealed record ApiError(ErrorCode Code, string Message, IReadOnlyList<string> Info);

internal enum ErrorCode
{
    ValidationError,
    Unauthorized,
    Forbidden,
    EmailMismatch,
    NotFound,
    MethodNotAllowed,
    InvitationNotPending,
    AlreadyInvited,
    AlreadyMember,
    LastOwner,
    InvitationExpired,
    InvitationSuperseded,
    PayloadTooLarge,
    UnsupportedMediaType,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    RateLimited,
    InternalError,
    ServiceUnavailable,
}

internal static class Envelope
{
    public static Envelope<T> Of<T>(T value) => new() { IsSuccess = true, Value = value };
}

// A request body type: the OpenAPI document requires its [Required] fields only (OpenApiSetup).
internal interface IRequestBody;
