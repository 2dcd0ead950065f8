using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using MimeKit;

namespace TenantInvitations.Tests;

// Several real service processes on one database (a shared SQLite file in WAL mode, or one PostgreSQL database),
// all delivering to one SMTP sink: the cooldown, the outbox claims and the leases must hold across nodes.
// IAsyncLifetime, not IAsyncDisposable: xunit 2 only calls the former, and the processes must not outlive the test.
public sealed class MultiNodeTests : IAsyncLifetime
{
    private const string NodeA = "node-a@multinode.test";
    private const string NodeB = "node-b@multinode.test";

    private readonly ServiceNodes cluster = new("multinode");
    private readonly SmtpSink smtp = new();
    // Set when the test ends, so an SMTP hook still holding a message lets go and the sink can stop.
    private readonly TaskCompletionSource ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task Parallel_resends_spread_over_two_nodes_give_one_200_per_invitation_and_one_new_email_each()
    {
        var cooldown = TimeSpan.FromSeconds(10);
        string[] extra = [$"--Invitations:ResendCooldown={cooldown}"];
        var a = await StartAsync(NodeA, extra);
        var tenantId = await CreateTenantAsync(a);
        var b = await StartAsync(NodeB, extra);
        var nodes = new[] { Client(a), Client(b) };

        var invitations = new List<(long Id, string Email)>();
        for (var i = 0; i < 10; i++)
        {
            var email = $"resend-{i}@multinode.test";
            invitations.Add((await InviteAsync(nodes[i % 2], tenantId, email), email));
        }
        var lastCreated = DateTime.UtcNow;
        foreach (var (_, email) in invitations)
        {
            await smtp.WaitForAsync(email);
        }
        await Eventually.ValueAsync(SummaryAsync, s => s == "Sent: 11");
        // Every invitation's cooldown has run out after this; a burst takes far less than the cooldown, so one resend each can win.
        var wait = lastCreated + cooldown + TimeSpan.FromMilliseconds(500) - DateTime.UtcNow;
        await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero);

        var burst = invitations.SelectMany(invitation => Enumerable.Range(0, 8).Select(n => (invitation.Id, Node: nodes[n % 2]))).ToList();
        var responses = await Task.WhenAll(burst.Select(r => Task.Run(async () =>
            (r.Id, Response: await ServiceNodes.SendAsync(r.Node, HttpMethod.Put, $"tenant/{tenantId}/admin/user/invitation/resend?id={r.Id}")))));

        foreach (var (id, email) in invitations)
        {
            var answers = responses.Where(r => r.Id == id).Select(r => r.Response).ToList();
            var resent = Assert.Single(answers, r => r.Status == HttpStatusCode.OK).AssertSuccess();
            Assert.Equal((id, email, 2), (resent[0].GetProperty("id").GetInt64(), resent[0].GetProperty("email").GetString(), resent[0].GetProperty("sendCount").GetInt32()));
            foreach (var refused in answers.Where(r => r.Status != HttpStatusCode.OK))
            {
                refused.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
                Assert.NotNull(refused.Headers.RetryAfter?.Delta);
            }
        }
        // Once every outbox row is Sent, the sink has everything it will ever get.
        await Eventually.ValueAsync(SummaryAsync, s => s == "Sent: 21", seconds: 30);
        foreach (var (_, email) in invitations)
        {
            var received = smtp.To(email);
            Assert.Equal(2, received.Length);
            Assert.Equal(2, received.Select(m => m.MessageId).Distinct().Count());
            Assert.NotEqual(Mailbox.TokenFrom(received[0]), Mailbox.TokenFrom(received[1]));
        }
    }

    [Fact]
    public async Task Five_hundred_queued_emails_drain_over_two_nodes_and_none_is_lost_when_one_is_killed_midway()
    {
        const int count = 500;
        // The SMTP server is down while the emails are queued: short retries keep them due, so they pile up and are all
        // ready to go the moment it comes back. The lease is short so the survivor takes over the killed node's claims quickly.
        string[] extra =
        [
            $"--Invitations:EmailsPerHour={count * 2}", "--Email:RetryBaseDelay=00:00:01", "--Email:MaxRetryDelay=00:00:03",
        ];
        var a = await StartAsync(NodeA, extra);
        var tenantId = await CreateTenantAsync(a);
        var b = await StartAsync(NodeB, extra);
        var nodes = new[] { Client(a), Client(b) };

        await smtp.StopAsync();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            await InviteAsync(nodes[i % 2], tenantId, Bulk(i)));
        Assert.Equal($"Queued: {count}, Sent: 1", await SummaryAsync());

        var received = 0;
        var fromB = 0;
        var killed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        smtp.OnReceived = async message =>
        {
            // Each node probes the returning server on its own schedule (MailServerCircuit): until B's probe has come, A's
            // emails are answered slowly, so A can't drain the whole backlog alone before B takes part.
            if (SenderOf(message) == NodeB)
            {
                Interlocked.Exchange(ref fromB, 1);
            }
            else if (Volatile.Read(ref fromB) == 0)
            {
                await Task.Delay(100);
            }
            // The sink has this message but node B will never hear the 250: it is the one email B had in flight.
            if (Interlocked.Increment(ref received) >= count / 5 && SenderOf(message) == NodeB && !killed.Task.IsCompleted)
            {
                b.Kill();
                killed.TrySetResult(message.MessageId!);
            }
        };
        smtp.Start();
        var inFlight = await WithinAsync(killed.Task, 60, () => $"Node B was not killed: the sink received {Volatile.Read(ref received)} emails, none from B after the {count / 5}th.");

        await Eventually.ValueAsync(SummaryAsync, s => s == $"Sent: {count + 1}", seconds: 90);
        var rows = await OutboxAsync();
        Assert.All(rows, row => Assert.False(row.Locked, $"{row.MessageId} is still locked."));
        var bulk = smtp.Messages.Where(m => m.To.Mailboxes.Single().Address.StartsWith("bulk-", StringComparison.Ordinal)).ToList();
        var byAddress = bulk.GroupBy(m => m.To.Mailboxes.Single().Address).ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(Bulk).Order(), byAddress.Select(g => g.Key).Order());
        // A copy sent again is the same email: one Message-ID per address, the one its outbox row was given when queued.
        var messageIds = rows.ToDictionary(r => r.Email, r => r.MessageId);
        Assert.All(byAddress, g => Assert.Equal([messageIds[g.Key]], g.Select(m => m.MessageId).Distinct()));
        Assert.Equal(count, bulk.Select(m => m.MessageId).Distinct().Count());
        // The email B had in flight went again from A once B's lease ran out, and so did what B had sent in its chunk but not
        // recorded yet: the duplicate window docs/email.md promises, one chunk (at most ChunkSize emails) of the killed node.
        var copies = bulk.GroupBy(m => m.MessageId!).Where(g => g.Count() > 1).ToDictionary(g => g.Key, g => g.Count());
        Assert.Contains(inFlight, copies.Keys);
        Assert.True(copies.Values.Sum() - copies.Count <= TenantInvitations.Email.OutboxDispatcher.ChunkSize, $"Too many emails went twice: {string.Join(", ", copies)}");
        Assert.All(copies.Values, copiesOfOne => Assert.Equal(2, copiesOfOne));
        // Sent rows keep no locked_by, so each node signs its emails with its own From address to show it did its share.
        var bySender = bulk.DistinctBy(m => m.MessageId).GroupBy(SenderOf).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(bySender.GetValueOrDefault(NodeA) > 0 && bySender.GetValueOrDefault(NodeB) > 0, $"Delivered per node: {string.Join(", ", bySender)}");
    }

    [Fact]
    public async Task Sigterm_finishes_the_request_and_the_email_in_flight_releases_the_other_claims_and_exits_0()
    {
        // Short retries while the SMTP server is down, so the queued emails are all due again soon after the first node stops.
        var retryCap = TimeSpan.FromSeconds(1);
        string[] extra =
        [
            "--Email:RetryBaseDelay=00:00:00.500", $"--Email:MaxRetryDelay={retryCap}",
            "--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Information",
        ];
        await smtp.StopAsync();
        var first = await StartAsync(NodeA, extra);
        var tenantId = await CreateTenantAsync(first, waitForEmail: false);
        var queued = new List<string> { "owner@multinode.test" };
        for (var i = 0; i < 3; i++)
        {
            queued.Add($"queued-{i}@multinode.test");
            await InviteAsync(Client(first), tenantId, queued[^1]);
        }
        // An idle node stops cleanly too, and leaves nothing claimed.
        first.Terminate();
        Assert.Equal(0, await first.WaitForExitAsync());
        Assert.All(await OutboxAsync(), row => Assert.Equal(("Queued", false), (row.Status, row.Locked)));

        var inFlight = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        smtp.OnReceived = async message =>
        {
            inFlight.TrySetResult(message.To.Mailboxes.Single().Address);
            await Task.WhenAny(release.Task, ended.Task);
        };
        smtp.Start();
        // Past the longest retry wait, so the next node's first claim takes all four in one batch.
        await Task.Delay(retryCap + TimeSpan.FromMilliseconds(500));
        var node = await StartAsync(NodeA, extra);
        var sending = await WithinAsync(inFlight.Task, 20, () => $"No email reached the SMTP server. Output:\n{node.Output}");
        Assert.Equal(queued.Order(), (await OutboxAsync()).Where(r => r.Locked).Select(r => r.Email).Order());

        var finishBody = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var body = new SlowBody("{\"email\":\"late@multinode.test\",", "\"role\":\"Member\"}", finishBody.Task);
        var request = ServiceNodes.SendAsync(Client(node), HttpMethod.Post, $"tenant/{tenantId}/admin/user/invitation", body);
        await WithinAsync(body.Started.Task, 20, () => "The request body was never started.");
        await node.WaitForOutputAsync("Request starting HTTP/1.1 POST");
        node.Terminate();
        await node.WaitForOutputAsync("Application is shutting down");
        // While it drains, the node still answers, but tells the load balancer to send nothing more.
        using (var probe = new HttpClient { BaseAddress = node.BaseAddress })
        {
            using var ready = await probe.GetAsync("health/ready");
            Assert.Equal((HttpStatusCode.ServiceUnavailable, "Unhealthy"), (ready.StatusCode, await ready.Content.ReadAsStringAsync()));
        }
        finishBody.SetResult();
        var created = await WithinAsync(request, 20, () => $"The request in flight did not complete. Output:\n{node.Output}");
        Assert.True(created.Status == HttpStatusCode.Created, $"{created.Body}\nOutput:\n{node.Output}");
        var invitation = created.AssertSuccess(HttpStatusCode.Created)[0];
        Assert.Equal(("late@multinode.test", "Member", "Pending"),
            (invitation.GetProperty("email").GetString(), invitation.GetProperty("role").GetString(), invitation.GetProperty("status").GetString()));
        release.SetResult();
        Assert.Equal(0, await node.WaitForExitAsync());

        // The email in flight was finished and recorded; the rest were handed back, and the new one was never claimed.
        var rows = await OutboxAsync();
        Assert.Equal(
            [.. queued.Append("late@multinode.test").Select(email => (email, email == sending ? "Sent" : "Queued", false)).Order()],
            rows.Select(r => (r.Email, r.Status, r.Locked)).Order());
        Assert.Equal(0, rows.Single(r => r.Email == "late@multinode.test").Attempts);
        Assert.Equal([sending], smtp.Messages.Select(m => m.To.Mailboxes.Single().Address));

        // Another node delivers the rest, and nothing twice.
        smtp.OnReceived = null;
        await StartAsync(NodeB, extra);
        await Eventually.ValueAsync(SummaryAsync, s => s == "Sent: 5", seconds: 30);
        Assert.Equal(queued.Append("late@multinode.test").Order(), smtp.Messages.Select(m => m.To.Mailboxes.Single().Address).Order());
    }

    private static string Bulk(int i) => $"bulk-{i.ToString("000", CultureInfo.InvariantCulture)}@multinode.test";

    private static string SenderOf(MimeMessage message) => message.From.Mailboxes.Single().Address;

    // A node sending through the sink as `from`, with a short email lease.
    private Task<ServiceProcess> StartAsync(string from, string[] extra) => cluster.StartAsync(
    [
        "--Email:Smtp:Host=127.0.0.1", $"--Email:Smtp:Port={smtp.Port.ToString(CultureInfo.InvariantCulture)}", "--Email:Smtp:UseTls=false",
        $"--Email:Smtp:From={from}", "--Email:LeaseDuration=00:00:02", .. extra,
    ]);

    private HttpClient Client(ServiceProcess process) => cluster.Client(process);

    // On the first node, before any other starts: the tenant's Owner invitation also creates the shared Data Protection key.
    private async Task<long> CreateTenantAsync(ServiceProcess node, bool waitForEmail = true)
    {
        var created = await ServiceNodes.SendAsync(Client(node), HttpMethod.Post, "tenant", new { name = "Multi Co", ownerEmail = "owner@multinode.test" });
        var tenantId = created.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        if (waitForEmail)
        {
            await smtp.WaitForAsync("owner@multinode.test");
        }
        return tenantId;
    }

    private static async Task<long> InviteAsync(HttpClient node, long tenantId, string email)
    {
        var created = await ServiceNodes.SendAsync(node, HttpMethod.Post, $"tenant/{tenantId}/admin/user/invitation", new { email, role = "Member" });
        var invitation = created.AssertSuccess(HttpStatusCode.Created)[0];
        Assert.Equal(email, invitation.GetProperty("email").GetString());
        return invitation.GetProperty("id").GetInt64();
    }

    private static async Task<T> WithinAsync<T>(Task<T> task, int seconds, Func<string> failure)
    {
        if (await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(seconds))) != task)
        {
            Assert.Fail(failure());
        }
        return await task;
    }

    private static async Task WithinAsync(Task task, int seconds, Func<string> failure) =>
        await WithinAsync(task.ContinueWith(t => { t.GetAwaiter().GetResult(); return true; }, TaskScheduler.Default), seconds, failure);

    private sealed record OutboxRow(string Email, string MessageId, string Status, bool Locked, int Attempts);

    // The outbox as the database has it, read on a connection of the test's own.
    private async Task<List<OutboxRow>> OutboxAsync()
    {
        await using var connection = cluster.Database.Connect();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT i.email, o.message_id, o.status,
                   CASE WHEN o.locked_by IS NULL AND o.locked_until IS NULL THEN 0 ELSE 1 END, o.attempts
            FROM outbox_messages o JOIN invitations i ON i.id = o.invitation_id
            """;
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<OutboxRow>();
        while (await reader.ReadAsync())
        {
            rows.Add(new OutboxRow(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                Convert.ToInt32(reader.GetValue(3), CultureInfo.InvariantCulture) == 1, Convert.ToInt32(reader.GetValue(4), CultureInfo.InvariantCulture)));
        }
        return rows;
    }

    // "Queued: 20, Sent: 481": the outbox by status, counted in the database (cheap enough to poll); what a failed wait prints.
    private async Task<string> SummaryAsync()
    {
        await using var connection = cluster.Database.Connect();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT status, COUNT(*) FROM outbox_messages GROUP BY status ORDER BY status";
        await using var reader = await command.ExecuteReaderAsync();
        var counts = new List<string>();
        while (await reader.ReadAsync())
        {
            counts.Add($"{reader.GetString(0)}: {Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture)}");
        }
        return string.Join(", ", counts);
    }

    // A JSON body sent in two parts, the second only when the test says so: the request is still being received meanwhile.
    private sealed class SlowBody : HttpContent
    {
        private readonly byte[] first;
        private readonly byte[] rest;
        private readonly Task proceed;

        public SlowBody(string first, string rest, Task proceed)
        {
            (this.first, this.rest, this.proceed) = (Encoding.UTF8.GetBytes(first), Encoding.UTF8.GetBytes(rest), proceed);
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(first);
            await stream.FlushAsync();
            Started.TrySetResult();
            await proceed;
            await stream.WriteAsync(rest);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = first.Length + rest.Length;
            return true;
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        ended.TrySetResult();
        cluster.Dispose();
        // What the nodes logged (at their default levels) holds no token, hash or link of any email they sent.
        var scan = new LeakScan();
        scan.AddTokensFrom(smtp.Messages);
        var leaks = scan.Find(cluster.Started.Select((process, i) => ($"output of node {i + 1}", process.Output)));
        await smtp.DisposeAsync();
        Assert.Empty(leaks);
    }
}
