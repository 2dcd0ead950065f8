using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace TenantInvitations.Tests;

// Two real service processes on one database (one PostgreSQL database, or one SQLite file) write events concurrently, their
// transactions committing out of id order, while a consumer follows the feed through both: it sees every event exactly once.
public sealed class FeedAcrossNodesTests : IAsyncLifetime
{
    private const int WorkersPerNode = 6;
    private const int InvitationsPerWorker = 12;

    private readonly ServiceNodes nodes = new("feed");

    [Fact]
    public async Task A_consumer_following_next_sees_every_event_exactly_once_while_two_nodes_commit_out_of_id_order()
    {
        var a = nodes.Client(await nodes.StartAsync());
        var tenantId = (await SendAsync(a, HttpMethod.Post, "tenant", new { name = "Feed Co", ownerEmail = "owner@feed.test" }))
            .AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        var b = nodes.Client(await nodes.StartAsync());
        var seen = new ConcurrentQueue<FeedEvent>();
        using var stop = new CancellationTokenSource();
        var consumer = Task.Run(() => ConsumeAsync([a, b], seen, stop.Token));

        var writers = new[] { a, b }.SelectMany(node => Enumerable.Range(0, WorkersPerNode).Select(worker => (node, worker))).Select((w, index) => Task.Run(async () =>
        {
            for (var i = 0; i < InvitationsPerWorker; i++)
            {
                var email = $"w{index}-{i.ToString(CultureInfo.InvariantCulture)}@feed.test";
                var created = await WithRetriesAsync(() => SendAsync(w.node, HttpMethod.Post, $"tenant/{tenantId}/admin/user/invitation", new { email }));
                var id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
                (await WithRetriesAsync(() => SendAsync(w.node, HttpMethod.Put, $"tenant/{tenantId}/admin/user/invitation/revoke?id={id}"))).AssertSuccess();
            }
        })).ToArray();
        await Task.WhenAll(writers);
        // Settled: no email left to send, so no event left to write.
        await Eventually.ValueAsync(() => ScalarAsync("SELECT COUNT(*) FROM outbox_messages WHERE status = 'Queued'"), n => n == 0, seconds: 60);
        var stored = await StoredAsync();
        await Eventually.ValueAsync(() => Task.FromResult(seen.Count), n => n >= stored.Count, seconds: 30);
        await Task.Delay(500); // a few more polls: anything seen twice would show now
        await stop.CancelAsync();
        await consumer;

        var events = seen.ToList();
        var changes = 2 * 2 * WorkersPerNode * InvitationsPerWorker;
        Assert.True(stored.Count >= changes + 2, $"{stored.Count} events stored");
        Assert.Equal(events.Count, events.Select(e => e.Id).Distinct().Count());
        Assert.Equal(stored.Select(s => s.Id).Order(), events.Select(e => e.Id).Order());
        // In feed order, and that order is not the id order: some transactions did commit out of id order.
        var position = stored.ToDictionary(s => s.Id, s => (s.Position, s.Id));
        Assert.Equal(events.Select(e => position[e.Id]).Order(), events.Select(e => position[e.Id]));
        Assert.NotEqual(events.Select(e => e.Id).Order(), events.Select(e => e.Id));
        Assert.Equal(changes, events.Count(e => e.Type is "invitation.created" or "invitation.revoked") - 1);
    }

    // Polls the feed through both nodes in turn, keeping only the last next link, as an integrator's consumer would.
    private static async Task ConsumeAsync(HttpClient[] nodes, ConcurrentQueue<FeedEvent> seen, CancellationToken stop)
    {
        var next = "events?limit=37";
        for (var poll = 0; !stop.IsCancellationRequested; poll++)
        {
            ApiResponse response;
            try
            {
                response = await SendAsync(nodes[poll % nodes.Length], HttpMethod.Get, next.TrimStart('/'));
            }
            catch (HttpRequestException)
            {
                continue;
            }
            if (response.Status == HttpStatusCode.ServiceUnavailable)
            {
                continue; // a SQLite file busy with the other process's writes: ask again
            }
            var page = response.Events();
            foreach (var e in page)
            {
                seen.Enqueue(e);
            }
            next = response.Next();
            if (page.Length == 0)
            {
                await Task.Delay(20, CancellationToken.None);
            }
        }
    }

    // Two processes on one SQLite file may answer a write 503 (the documented busy answer); a client retries it.
    private static async Task<ApiResponse> WithRetriesAsync(Func<Task<ApiResponse>> send)
    {
        for (var attempt = 1; ; attempt++)
        {
            var response = await send();
            if (response.Status != HttpStatusCode.ServiceUnavailable || attempt == 5)
            {
                return response;
            }
            await Task.Delay(100 * attempt);
        }
    }

    private async Task<List<(long Id, long Position)>> StoredAsync()
    {
        await using var connection = nodes.Database.Connect();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, position FROM events WHERE type <> 'webhook.test'";
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(long, long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture)));
        }
        return rows;
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = nodes.Database.Connect();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static Task<ApiResponse> SendAsync(HttpClient client, HttpMethod method, string path, object? body = null) =>
        ServiceNodes.SendAsync(client, method, path, body);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        nodes.Dispose();
        return Task.CompletedTask;
    }
}
