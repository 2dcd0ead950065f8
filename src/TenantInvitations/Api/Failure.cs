using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace TenantInvitations.Api;

// An error response: the status code, the envelope, and a Retry-After header when one applies.
internal sealed class Failure(int statusCode, ApiError error, TimeSpan? retryAfter = null) : IResult, IStatusCodeHttpResult
{
    public int? StatusCode => statusCode;
    public ApiError Error => error;

    public Task ExecuteAsync(HttpContext http) => WriteAsync(http, statusCode, error, retryAfter);

    public static Task WriteAsync(HttpContext http, int statusCode, ApiError error, TimeSpan? retryAfter = null)
    {
        http.Response.StatusCode = statusCode;
        if (retryAfter is { } wait)
        {
            http.Response.Headers.RetryAfter = RetryAfterSeconds(wait).ToString(CultureInfo.InvariantCulture);
        }
        if (http.Request.Path.StartsWithSegments("/console"))
        {
            return Console.ErrorPage.WriteAsync(http, statusCode, error); // a browser's answer is a page, not an envelope
        }
        var json = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        return http.Response.WriteAsJsonAsync(new ErrorEnvelope { Error = error }, json, http.RequestAborted);
    }

    // Retry-After is whole seconds; round up so a client that waits exactly that long is not refused again.
    public static long RetryAfterSeconds(TimeSpan wait) => Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds));

    public static Failure Validation(params string[] problems) =>
        new(400, new ApiError(ErrorCode.ValidationError, "The request parameters failed validation.", problems));

    public static Failure Validation(IReadOnlyList<string> problems) =>
        new(400, new ApiError(ErrorCode.ValidationError, "The request parameters failed validation.", problems));

    public static Failure Forbidden(string message = "You may not manage invitations in this tenant.") =>
        new(403, new ApiError(ErrorCode.Forbidden, message, []));

    public static Failure NotFound(string what) =>
        new(404, new ApiError(ErrorCode.NotFound, $"{what} was not found.", []));

    public static Failure Conflict(ErrorCode code, string message, params string[] info) =>
        new(409, new ApiError(code, message, info));

    public static Failure Gone(ErrorCode code, string message) =>
        new(410, new ApiError(code, message, []));

    public static Failure RateLimited(TimeSpan retryAfter, string message) =>
        new(429, new ApiError(ErrorCode.RateLimited, message,
            [$"Retry after {RetryAfterSeconds(retryAfter).ToString(CultureInfo.InvariantCulture)} seconds."]), retryAfter);
}

// The success envelope with 200; failures are Failure results.
internal static class ApiResults
{
    public static Ok<Envelope<T>> Ok<T>(T value) => TypedResults.Ok(Envelope.Of(value));
}
