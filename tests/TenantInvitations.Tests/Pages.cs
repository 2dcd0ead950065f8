using System.Text.Json;
using System.Text.RegularExpressions;

namespace TenantInvitations.Tests;

// Paged lists link their next page in a `Link: <url>; rel="next"` header; these follow it as a client would.
public static partial class Pages
{
    public static string? Next(ApiResponse response)
    {
        if (!response.Headers.TryGetValues("Link", out var values))
        {
            return null;
        }
        var header = Assert.Single(values);
        var match = NextLink().Match(header);
        Assert.True(match.Success, $"Not a rel=\"next\" Link header: {header}");
        var url = match.Groups["url"].Value;
        // Relative to the service, never built from the request's Host.
        Assert.False(Uri.IsWellFormedUriString(url, UriKind.Absolute), url);
        Assert.StartsWith("/", url);
        Assert.False(url.StartsWith("//", StringComparison.Ordinal), url);
        return url;
    }

    // Reads every page from the first, following Link headers; returns each page's items.
    public static async Task<List<JsonElement[]>> ReadAllAsync(TestApp app, string firstPage, string token)
    {
        var pages = new List<JsonElement[]>();
        for (string? path = firstPage; path is not null;)
        {
            Assert.True(pages.Count < 100, "The Link headers never stop.");
            var response = await app.GetAsync(path, token);
            pages.Add([.. response.AssertSuccess().EnumerateArray()]);
            path = Next(response);
        }
        return pages;
    }

    public static long[] Ids(IEnumerable<JsonElement> items, string property = "id") =>
        [.. items.Select(i => i.GetProperty(property).GetInt64())];

    [GeneratedRegex("^<(?<url>[^>]+)>; rel=\"next\"$")]
    private static partial Regex NextLink();
}
