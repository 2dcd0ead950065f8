using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

public sealed record FeedActor(string? Subject, string? Email, bool IsPlatformAdmin);

public sealed record FeedEvent(long Id, string Type, long? TenantId, DateTime OccurredAt, FeedActor? Actor, JsonElement Data)
{
    public long DataId(string property = "id") => Data.GetProperty(property).GetInt64();
}

// Reads the events feed as a consumer does: pages through `Link: rel="next"` until a page comes back empty.
public static partial class Feed
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static FeedEvent[] Events(this ApiResponse response) => response.AssertSuccess().Deserialize<FeedEvent[]>(Json)!;

    // The next link of a feed response: every response has one, an empty page too.
    public static string Next(this ApiResponse response)
    {
        var link = response.Headers.TryGetValues("Link", out var values) ? values.Single() : null;
        Assert.True(link is not null, $"No Link header on {(int)response.Status}: {response.Body}");
        var match = NextLink().Match(link);
        Assert.True(match.Success, $"Not a next link: {link}");
        return match.Groups[1].Value;
    }

    public static async Task<(List<FeedEvent> Events, string Next)> ReadToEndAsync(this TestApp app, string path, string token)
    {
        await app.CaughtUpAsync();
        var events = new List<FeedEvent>();
        while (true)
        {
            var response = await app.GetAsync(path, token);
            var page = response.Events();
            path = response.Next();
            if (page.Length == 0)
            {
                return (events, path);
            }
            events.AddRange(page);
        }
    }

    // Waits until every event stored so far is visible in the feed. On PostgreSQL a transaction still running anywhere in the
    // cluster (another test's, in another database) holds the feed back for a moment: what a test just wrote may not show yet.
    public static Task CaughtUpAsync(this TestApp app) => Eventually.ValueAsync(() => app.QueryAsync(async db =>
    {
        var visibleBelow = await TenantInvitations.Events.EventsApi.VisibleBelowAsync(db, CancellationToken.None);
        return await db.Events.IgnoreQueryFilters().CountAsync(e => e.Position >= visibleBelow);
    }), hidden => hidden == 0);

    // Two JSON values with the same members and values, in any property order.
    public static void AssertSameJson(JsonElement expected, JsonElement actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected.GetRawText()), JsonNode.Parse(actual.GetRawText())),
            $"Expected {expected.GetRawText()}\nbut got  {actual.GetRawText()}");

    [GeneratedRegex("^<([^>]+)>; rel=\"next\"$")]
    private static partial Regex NextLink();
}
