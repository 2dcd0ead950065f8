using System.Data.Common;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace TenantInvitations.Tests;

// The database going away under a running service, with a real process. On PostgreSQL the test's own cluster is stopped
// and started again; on SQLite, the analogous outage is another writer holding the database's write lock.
public sealed class OutageTests : IDisposable
{
    private const string DispatcherWarning = "the outbox dispatcher will keep trying";
    // The background jobs that read the database every few hundred milliseconds here (PeriodicWork), as their log lines name them.
    private static readonly string[] Jobs = ["the outbox dispatcher", "the webhook dispatcher", "the expiry sweep", "event retention"];

    private readonly string folder = Directory.CreateTempSubdirectory("ti-outage-").FullName;
    private readonly PostgresCluster? cluster;
    private readonly TestDatabase? sqlite;
    private readonly HttpClient client = new() { Timeout = TimeSpan.FromSeconds(20) };
    private readonly string adminToken = TestApp.Token("platform-root", "root@platform.test", platformAdmin: true);
    private ServiceProcess? service;

    public OutageTests()
    {
        if (TestDatabase.IsPostgres)
        {
            cluster = PostgresCluster.Start();
        }
        else
        {
            sqlite = TestDatabase.Create(folder);
        }
    }

    private Mailbox Mail => new(Path.Combine(folder, "mail"));

    private string ConnectionString => cluster?.ConnectionString ?? sqlite!.ConnectionString;

    [Fact]
    public async Task During_an_outage_requests_are_503_ServiceUnavailable_nothing_is_written_and_the_service_recovers_without_a_restart()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await StartServiceAsync(ConnectionString);
        var (tenantId, ownerToken) = await CreateTenantAsync();
        var webhook = (await SendAsync(HttpMethod.Post, $"/tenant/{tenantId}/admin/webhooks", ownerToken, new { url = receiver.Url, types = new[] { "invitation.created" } }))
            .AssertSuccess(HttpStatusCode.Created);
        var secret = webhook.GetProperty("secret").GetString()!;
        var deliveries = $"/tenant/{tenantId}/admin/webhooks/{webhook.GetProperty("id").GetInt64()}/deliveries";
        var invitations = $"/tenant/{tenantId}/admin/user/invitation";
        var invitee = Scenarios.UniqueEmail();
        var invitationId = (await SendAsync(HttpMethod.Post, invitations, ownerToken, new { email = invitee }))
            .AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
        var link = Mailbox.TokenFrom(Assert.Single(await Mail.WaitForAsync(invitee)));
        // Delivered and recorded before the outage, so it is not sent again after it.
        await receiver.WaitForAsync(r => r.Any(w => InvitedIn(w) == invitee));
        await Eventually.ValueAsync(async () => string.Join(", ", (await SendAsync(HttpMethod.Get, deliveries, ownerToken)).AssertSuccess()
            .EnumerateArray().Select(d => d.GetProperty("status").GetString())), statuses => statuses is "Succeeded" or "Succeeded, Succeeded");
        var rowsBefore = await CountRowsAsync();
        var late = Scenarios.UniqueEmail("late");

        await using (await BeginOutageAsync())
        {
            var writes = await Task.WhenAll(
                SendAsync(HttpMethod.Post, invitations, ownerToken, new { email = late }),
                SendAsync(HttpMethod.Put, $"{invitations}/resend?id={invitationId}", ownerToken),
                SendAsync(HttpMethod.Post, "/invitation/accept", body: new { token = link }),
                SendAsync(HttpMethod.Post, "/tenant", adminToken, new { name = "Late", ownerEmail = late }),
                // A platform admin's read inside a tenant writes its audit event, so it needs the database like a write.
                SendAsync(HttpMethod.Get, invitations, adminToken));
            Assert.All(writes, AssertUnavailable);

            var reads = await Task.WhenAll(
                SendAsync(HttpMethod.Get, invitations, ownerToken),
                SendAsync(HttpMethod.Get, "/me/tenants", ownerToken),
                SendAsync(HttpMethod.Get, $"/invitation?token={link}"));
            if (cluster is not null)
            {
                Assert.All(reads, AssertUnavailable);
            }
            else
            {
                // SQLite in WAL mode: readers never wait for the writer, so reads go on.
                Assert.All(reads, read => read.AssertSuccess());
            }

            // A PostgreSQL outage takes the node out of the load balancer; a SQLite write lock leaves reads working, so it stays ready.
            var ready = await SendAsync(HttpMethod.Get, "/health/ready");
            Assert.Equal(cluster is not null ? (HttpStatusCode.ServiceUnavailable, "Unhealthy") : (HttpStatusCode.OK, "Healthy"), (ready.Status, ready.Body));
            var live = await SendAsync(HttpMethod.Get, "/health/live");
            Assert.Equal((HttpStatusCode.OK, "Healthy"), (live.Status, live.Body));

            // The dispatcher met the outage too, and said so once.
            await Eventually.ValueAsync(() => Task.FromResult(service!.Output), output => output.Contains(DispatcherWarning, StringComparison.Ordinal));
            Assert.False(service!.HasExited);
        }

        // No restart: the same process answers again once the database is back.
        await Eventually.ValueAsync(async () => (await SendAsync(HttpMethod.Get, invitations, ownerToken)).Status, status => status == HttpStatusCode.OK);
        Assert.Equal(rowsBefore, await CountRowsAsync());
        var listed = (await SendAsync(HttpMethod.Get, invitations, ownerToken)).AssertSuccess();
        var pending = Assert.Single(listed.EnumerateArray(), i => i.GetProperty("email").GetString() == invitee);
        Assert.Equal(("Pending", 1), (pending.GetProperty("status").GetString(), pending.GetProperty("sendCount").GetInt32()));

        (await SendAsync(HttpMethod.Post, "/invitation/accept", body: new { token = link })).AssertSuccess();
        (await SendAsync(HttpMethod.Post, invitations, ownerToken, new { email = late })).AssertSuccess(HttpStatusCode.Created);
        Assert.Single(await Mail.WaitForAsync(late));
        // Webhook deliveries went on too: each invitation's event arrived once, signed, the one made after the outage last.
        var delivered = (await receiver.WaitForAsync(r => r.Any(w => InvitedIn(w) == late)))
            .Where(w => InvitedIn(w) == invitee || InvitedIn(w) == late).ToList();
        Assert.Equal([invitee, late], delivered.Select(InvitedIn));
        Assert.All(delivered, w => Assert.Equal(Signatures.Verified, Signatures.VerifyWithStandardWebhooks(secret, w)));
        // Each background job said once that the database was gone, and once that it was back. On SQLite only the outbox dispatcher
        // surely met the outage: the write lock stops writers, and the others had nothing to write meanwhile.
        foreach (var job in cluster is not null ? Jobs : Jobs[..1])
        {
            await Eventually.ValueAsync(() => Task.FromResult(service!.Output), output => output.Contains($"The database is back; {job} resumed.", StringComparison.Ordinal));
            Assert.Equal(1, Regex.Count(service!.Output, Regex.Escape($"{job} will keep trying")));
        }
        Assert.False(service!.HasExited);
    }

    // Needs no database of its own, so it runs the same in both suites: the server is a port that accepts connections and
    // never answers (a hung or firewalled host), then a closed port (connection refused).
    [Fact]
    public async Task Unreachable_PostgreSQL_answers_503_ServiceUnavailable_without_hanging_and_the_process_stays_up()
    {
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        try
        {
            // Requests wait for the connect timeout (Timeout=5, as docs/deploy.md advises); the health check has a shorter bound of its own.
            await StartServiceAsync($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=5", "Postgres", "--Storage:MigrateOnStart=false");
            var (ready, list) = (SendAsync(HttpMethod.Get, "/health/ready"), SendAsync(HttpMethod.Get, "/me/tenants", adminToken));
            Assert.Equal((HttpStatusCode.ServiceUnavailable, "Unhealthy"), ((await ready).Status, (await ready).Body));
            // The probe gave up before the request's connection attempt did.
            Assert.False(list.IsCompleted);
            AssertUnavailable(await list);
        }
        finally
        {
            silent.Stop();
        }

        AssertUnavailable(await SendAsync(HttpMethod.Post, "/invitation/accept", body: new { token = new string('a', 43) }));
        AssertUnavailable(await SendAsync(HttpMethod.Get, "/me/tenants", adminToken));
        var refused = await SendAsync(HttpMethod.Get, "/health/ready");
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "Unhealthy"), (refused.Status, refused.Body));
        var live = await SendAsync(HttpMethod.Get, "/health/live");
        Assert.Equal((HttpStatusCode.OK, "Healthy"), (live.Status, live.Body));
        Assert.False(service!.HasExited);
    }

    private static void AssertUnavailable(ApiResponse response)
    {
        response.AssertError(HttpStatusCode.ServiceUnavailable, "ServiceUnavailable");
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
    }

    // PostgreSQL: a fast shutdown of the server, started again when disposed. SQLite: another connection takes the write
    // lock and keeps it until disposed.
    private async Task<IAsyncDisposable> BeginOutageAsync()
    {
        if (cluster is not null)
        {
            cluster.StopServer();
            return new Outage(() =>
            {
                cluster.StartServer();
                return ValueTask.CompletedTask;
            });
        }
        var holder = new SqliteConnection(ConnectionString);
        await holder.OpenAsync();
        await using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }
        return new Outage(async () =>
        {
            await using var rollback = holder.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
            await holder.DisposeAsync();
        });
    }

    private sealed class Outage(Func<ValueTask> end) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => end();
    }

    // Every row of the tables a request could write, straight from the database.
    private async Task<Dictionary<string, long>> CountRowsAsync()
    {
        await using DbConnection connection = cluster is not null
            ? new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString)
            : new SqliteConnection(new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        var counts = new Dictionary<string, long>();
        foreach (var table in new[] { "tenants", "users", "memberships", "invitations", "outbox_messages", "audit_events" })
        {
            await using var count = connection.CreateCommand();
            count.CommandText = $"SELECT count(*) FROM {table}";
            counts[table] = Convert.ToInt64(await count.ExecuteScalarAsync());
        }
        return counts;
    }

    private async Task StartServiceAsync(string connectionString, string? provider = null, params string[] extra)
    {
        service = ServiceProcess.Start(folder,
        [
            $"--Storage:Provider={provider ?? (cluster is not null ? "Postgres" : "Sqlite")}", $"--ConnectionStrings:Invitations={connectionString}",
            $"--Auth:SigningKey={TestApp.SigningKey}", $"--Email:PickupDirectory={Path.Combine(folder, "mail")}",
            "--Email:PollInterval=00:00:00.200", "--Invitations:ResendCooldown=00:00:00", "--Webhooks:AllowHttp=true",
            "--Webhooks:AllowPrivateNetworks=true", "--Webhooks:PollInterval=00:00:00.200", "--Events:ExpirySweep=00:00:00.400",
            "--Events:RetentionInterval=00:00:00.200", .. extra,
        ]);
        client.BaseAddress = service.BaseAddress;
        await service.WaitUntilReadyAsync(provider is null ? "health/ready" : "health/live");
    }

    // The invited email of an invitation.created delivery.
    private static string? InvitedIn(ReceivedWebhook delivery) => delivery.Body().GetProperty("data").GetProperty("email").GetString();

    private async Task<(long TenantId, string OwnerToken)> CreateTenantAsync()
    {
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var created = await SendAsync(HttpMethod.Post, "/tenant", adminToken, new { name = "Outage Co", ownerEmail });
        var tenantId = created.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        var ownerToken = TestApp.Token($"sub-{ownerEmail}", ownerEmail);
        var link = Mailbox.TokenFrom(Assert.Single(await Mail.WaitForAsync(ownerEmail)));
        (await SendAsync(HttpMethod.Post, "/invitation/accept", ownerToken, new { token = link })).AssertSuccess();
        return (tenantId, ownerToken);
    }

    private async Task<ApiResponse> SendAsync(HttpMethod method, string path, string? token = null, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        using var response = await client.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }

    // Synchronous: xunit 2 disposes test classes through IDisposable only.
    public void Dispose()
    {
        try
        {
            client.Dispose();
            service?.Dispose();
        }
        finally
        {
            cluster?.Dispose();
            sqlite?.Dispose();
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // a process still shutting down; the temp folder is cleaned later
            }
        }
    }
}
