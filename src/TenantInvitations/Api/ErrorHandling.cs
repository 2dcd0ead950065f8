using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;
using TenantInvitations.Data;

namespace TenantInvitations.Api;

// The one place where whatever is not a handler's own answer becomes an envelope:
// binding failures, unknown routes, wrong methods, database outages and the unexpected.
internal static partial class ErrorHandling
{
    public static void UseEnvelopeErrors(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = WriteExceptionAsync,
            // Expected answers (a bad request, contention told to retry) are not logged as unhandled errors; outages are.
            SuppressDiagnosticsCallback = context => context.Exception is BadHttpRequestException or DbUpdateConcurrencyException
                || Storage.IsUniqueViolation(context.Exception) || Storage.IsRetryableConflict(context.Exception),
        });
        app.UseStatusCodePages(context => WriteStatusCodeAsync(context.HttpContext));
        app.Use(RefuseUnknownCharset);
    }

    // JSON is UTF-8 (RFC 8259). A JSON body that names UTF-8 in any spelling (utf8, "utf-8", UTF-8) is read as UTF-8: the
    // charset is dropped, as the framework's reader knows only some spellings and would fail with a 500. A body naming
    // another charset, or an empty one, is refused here with 415.
    private static Task RefuseUnknownCharset(HttpContext http, RequestDelegate next)
    {
        if (http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true
            && MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var type)
            && (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase))
            && type.Parameters.FirstOrDefault(p => p.Name.Equals("charset", StringComparison.OrdinalIgnoreCase)) is { } charset)
        {
            var value = charset.Value.ToString().Trim('"');
            if (!value.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !value.Equals("utf8", StringComparison.OrdinalIgnoreCase))
            {
                return new Failure(StatusCodes.Status415UnsupportedMediaType, new ApiError(ErrorCode.UnsupportedMediaType,
                    "Send the body as JSON in UTF-8 with 'Content-Type: application/json'.", [])).ExecuteAsync(http);
            }
            http.Request.ContentType = type.MediaType.ToString();
        }
        return next(http);
    }

    private static Task WriteExceptionAsync(HttpContext http)
    {
        var exception = http.Features.Get<IExceptionHandlerFeature>()?.Error;
        return exception switch
        {
            BadHttpRequestException bad => FromBadRequest(bad).ExecuteAsync(http),
            // Still contended after the retries (a version moved on, a racing insert won, PostgreSQL broke a deadlock).
            not null when exception is DbUpdateConcurrencyException || Storage.IsUniqueViolation(exception) || Storage.IsRetryableConflict(exception)
                => Failure.RateLimited(TimeSpan.FromSeconds(1),
                "Other requests are changing this right now; try again in a moment.").ExecuteAsync(http),
            not null when Storage.IsUnavailable(exception) => new Failure(StatusCodes.Status503ServiceUnavailable,
                new ApiError(ErrorCode.ServiceUnavailable, "The database is unavailable. Try again shortly.", []),
                TimeSpan.FromSeconds(5)).ExecuteAsync(http),
            _ => WriteInternalErrorAsync(http),
        };
    }

    private static Task WriteInternalErrorAsync(HttpContext http)
    {
        var traceId = Operations.Telemetry.TraceIdOf(http);
        http.Response.Headers["X-Trace-Id"] = traceId;
        return Failure.WriteAsync(http, StatusCodes.Status500InternalServerError, new ApiError(ErrorCode.InternalError,
            "An unexpected error occurred.", [$"Quote trace id {traceId} when reporting this."]));
    }

    private static Task WriteStatusCodeAsync(HttpContext http)
    {
        var status = http.Response.StatusCode;
        var error = status switch
        {
            404 => new ApiError(ErrorCode.NotFound, "No endpoint matches this path.", []),
            405 => new ApiError(ErrorCode.MethodNotAllowed, "This path does not accept this HTTP method.", []),
            413 => new ApiError(ErrorCode.PayloadTooLarge, "The request body is too large.", []),
            415 => new ApiError(ErrorCode.UnsupportedMediaType, "Send the body as JSON with 'Content-Type: application/json'.", []),
            >= 500 => new ApiError(ErrorCode.InternalError, "An unexpected error occurred.", []),
            _ => new ApiError(ErrorCode.ValidationError, "The request could not be processed.", []),
        };
        return Failure.WriteAsync(http, status, error);
    }

    // Minimal APIs report binding problems as BadHttpRequestException; turn each into a message a caller can act on,
    // without echoing the (possibly huge) value that was sent.
    public static Failure FromBadRequest(BadHttpRequestException exception)
    {
        if (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return new Failure(413, new ApiError(ErrorCode.PayloadTooLarge, "The request body is too large.", []));
        }
        if (exception.StatusCode == StatusCodes.Status415UnsupportedMediaType)
        {
            return new Failure(415, new ApiError(ErrorCode.UnsupportedMediaType,
                "Send the body as JSON with 'Content-Type: application/json'.", []));
        }
        var parameter = ParameterName().Match(exception.Message) is { Success: true } match ? match.Groups["name"].Value : null;
        var problem = exception.Message switch
        {
            _ when exception.InnerException is JsonException json => JsonProblem(json),
            var m when m.StartsWith("Failed to read parameter", StringComparison.Ordinal) => "The request body is not valid JSON.",
            var m when m.StartsWith("Implicit body inferred", StringComparison.Ordinal) || m.Contains("from the request body", StringComparison.Ordinal) =>
                "A JSON request body is required.",
            var m when m.StartsWith("Required parameter", StringComparison.Ordinal) => $"The {parameter} parameter is required.",
            var m when m.StartsWith("Failed to bind parameter", StringComparison.Ordinal) => ExpectedValue(parameter, m),
            _ => "The request is malformed.",
        };
        return Failure.Validation(problem);
    }

    private static string JsonProblem(JsonException json) => json.Path is { Length: > 1 } path
        ? $"The request body is not valid JSON, or the field at {path} has the wrong type or value."
        : "The request body is not valid JSON.";

    private static string ExpectedValue(string? parameter, string message)
    {
        // The type is written as the framework names it: long, int?, Nullable<int>, Nullable<InvitationStatus>...
        var type = ParameterType().Match(message) is { Success: true } match ? match.Groups["type"].Value : "";
        var wholeNumber = type.Contains("int", StringComparison.OrdinalIgnoreCase) || type.Contains("long", StringComparison.OrdinalIgnoreCase);
        return (wholeNumber, parameter) switch
        {
            (true, "id" or "tenantId") => $"The {parameter} must be a whole number from 1 to {long.MaxValue}.",
            (true, _) => $"The {parameter} parameter must be a whole number.",
            (false, "status") => $"The status must be one of {string.Join(", ", Enum.GetNames<Invitations.InvitationStatus>())}.",
            _ => $"The {parameter} parameter has an invalid value.",
        };
    }

    [GeneratedRegex("parameter \"(?<type>\\S+) (?<name>\\w+)\"")]
    private static partial Regex ParameterName();

    [GeneratedRegex("parameter \"(?<type>[^\"\\s]+) ")]
    private static partial Regex ParameterType();
}
