using System.Net;
using TenantInvitations.Api;

namespace TenantInvitations.Console;

// What the service answers on a console path when no page does (an unknown route, a refused form, a body too large, a
// failure): the same status, as a small page with a way back, since a browser shows it to a person.
internal static class ErrorPage
{
    public static Task WriteAsync(HttpContext http, int status, ApiError error, string? heading = null)
    {
        var (title, message) = status switch
        {
            404 when error.Code == ErrorCode.NotFound && error.Message.StartsWith("No endpoint", StringComparison.Ordinal) => ("Not found", "There is no such page."),
            404 => ("Not found", error.Message),
            403 => ("Not allowed", error.Message),
            413 => ("Too large", "What was sent is too large: a CSV file may be up to 10 MB, and any other form up to 1 MB."),
            >= 500 => ("Something went wrong", error.Message),
            _ => ("Can't do this", error.Message),
        };
        title = heading ?? title;
        http.Response.StatusCode = status;
        var details = string.Concat(error.Info.Select(i => $"<li>{WebUtility.HtmlEncode(i)}</li>"));
        http.Response.ContentType = "text/html; charset=utf-8";
        return http.Response.WriteAsync($"""
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · Invitations</title>
            <link rel="stylesheet" href="/console/assets/console.css"></head>
            <body><header class="top"><a class="brand" href="/console">Invitations</a></header>
            <main><h1>{title}</h1><p>{WebUtility.HtmlEncode(message)}</p>{(details.Length > 0 ? $"<ul>{details}</ul>" : "")}
            <p><a href="/console">Back to your tenants</a></p></main></body></html>
            """, http.RequestAborted);
    }
}
