using System.Web;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware.Options;

namespace TenantInvitations.Client;

/// <summary>Reads the next page's cursor from a list's <c>Link: &lt;…?after=cursor&gt;; rel="next"</c> header.</summary>
public static class Paging
{
    /// <summary>
    /// The <c>after</c> of the next page, or null when there is none. Pass a <see cref="HeadersInspectionHandlerOption"/>
    /// with <c>InspectResponseHeaders = true</c> in the request's <c>Options</c>, then read it here.
    /// </summary>
    public static string? NextAfter(HeadersInspectionHandlerOption inspected)
    {
        ArgumentNullException.ThrowIfNull(inspected);
        if (!inspected.ResponseHeaders.TryGetValue("Link", out var values))
        {
            return null;
        }
        foreach (var link in values.SelectMany(v => v.Split(',')))
        {
            var parts = link.Split(';', StringSplitOptions.TrimEntries);
            if (parts.Length < 2 || !parts[0].StartsWith('<') || !parts[0].EndsWith('>')
                || !parts.Skip(1).Any(p => p.Replace(" ", "", StringComparison.Ordinal).Equals("rel=\"next\"", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }
            var target = parts[0][1..^1];
            var query = target.IndexOf('?', StringComparison.Ordinal) is var at and >= 0 ? target[(at + 1)..] : "";
            if (HttpUtility.ParseQueryString(query)["after"] is { } after)
            {
                return after;
            }
        }
        return null;
    }
}
