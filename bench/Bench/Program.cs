using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;
using TenantInvitations.Bench;

// bench/run.sh builds everything, starts PostgreSQL and calls this with the paths; see docs/benchmarks.md for the method.
if (args is ["--smtp-sink", ..])
{
    // The sink on its own, to point a service at by hand: prints its port, then what it received every second.
    using var alone = new SmtpSink(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 0);
    Console.WriteLine($"SMTP sink on 127.0.0.1:{alone.Port}");
    while (true)
    {
        await Task.Delay(1000);
        Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {alone.Count} received");
    }
}
var options = BenchOptions.Parse(args);
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
Directory.CreateDirectory(options.Work);
var started = DateTime.UtcNow;
using var sink = new SmtpSink(0);
await using var receiver = await WebhookReceiver.StartAsync();
var run = new BenchRun(options, sink, receiver);
if (options.Prepare)
{
    await run.PrepareAsync();
    return 0;
}
BenchRun.Progress("Installing the better-auth peer's npm packages if its lock file changed (npm ci)");
await Peer.EnsureInstalledAsync(options.PeerDirectory);
foreach (var provider in new[] { "Postgres", "Sqlite" })
{
    await run.MeasureProviderAsync(provider);
}
var report = new Report(options, run, DateTime.UtcNow - started);
await report.WriteAsync();
foreach (var line in report.Lines())
{
    Console.WriteLine(line);
}
return run.Checks.All(c => c.Passed) && run.SqlDifferences.Count == 0 ? 0 : 1;

internal sealed record BenchOptions(bool Quick, bool Prepare, string App, string Scripts, string Work, string Output, int PostgresPort)
{
    public int Tenants => Quick ? 1_000 : 10_000;
    // Each pool row is used once: by the service's runs, pgbench's runs of its statements and the floors (FloorsAsync).
    public int ResendPool => Quick ? 150_000 : 900_000;
    public int AcceptPool => Quick ? 150_000 : 900_000;
    public int Warmup => Quick ? 1 : 5;
    public int Seconds => Quick ? 2 : 20;
    public int WarmUpAll => Quick ? 8 : 30;
    public string PeerDirectory => Path.Combine(Scripts, "..", "peers", "better-auth");

    public static BenchOptions Parse(string[] args)
    {
        string Value(string name) =>
            args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? throw new ArgumentException($"{name} is required");
        return new BenchOptions(args.Contains("--quick"), args.Contains("--prepare"), Value("--app"), Value("--scripts"), Value("--work"), Value("--output"),
            int.Parse(Value("--postgres-port"), CultureInfo.InvariantCulture));
    }
}

internal sealed record Check(string Provider, string Name, bool Passed, string Detail);

// The machine's CPU time so far (all cores, ms) from /proc/stat: idle, waiting on disk, and stolen by the hypervisor.
internal sealed record MachineCpu(long Idle, long IoWait, long Steal)
{
    public static MachineCpu Read()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture) * 1000 / 100).ToArray(); // USER_HZ is 100 on Linux
        return new MachineCpu(fields[3], fields[4], fields.Length > 7 ? fields[7] : 0);
    }
}

internal sealed record EmailLatency(string Provider, int Emails, double P50, double P99);

internal sealed record Drain(string Provider, int Emails, double PerSecond, Cpu.PerRequest Cost);

// Everything measured, provider by provider.
internal sealed partial class BenchRun(BenchOptions options, SmtpSink sink, WebhookReceiver receiver)
{
    private static readonly string SigningKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public List<Measurement> Measurements { get; } = [];
    public List<Check> Checks { get; } = [];
    public List<EmailLatency> Latencies { get; } = [];
    public List<Drain> Drains { get; } = [];
    public List<string> SqlDifferences { get; } = [];
    public Dictionary<string, double> PeakRss { get; } = [];
    public Dictionary<string, double> PeerRss { get; } = [];
    public string PostgresVersion { get; private set; } = "";

    // --prepare: both databases seeded as for a run, and what it takes to load them by hand (docs/benchmarks.md).
    public async Task PrepareAsync()
    {
        foreach (var provider in new[] { "Postgres", "Sqlite" })
        {
            var database = await Database.CreateAsync(provider, options);
            // Port 2525: start the benchmark's sink there by hand (docs/benchmarks.md), or point Email__Smtp__Port elsewhere.
            var settings = new Service.Settings(options.App, options.Work, provider, database.ConnectionString, 2525, SigningKey);
            await Service.CommandAsync(settings, "migrate");
            await database.SeedAsync(new Seed(options.Tenants, options.ResendPool, options.AcceptPool));
            var token = await Service.CommandAsync(settings, "token", "--sub", Seed.AdminSubject, "--email", Seed.AdminEmail, "--minutes", "600");
            var start = settings.StartInfo();
            Console.WriteLine($"# {provider}: start the service with");
            Console.WriteLine(string.Join(" ", start.Environment.Where(e => e.Key.Contains("__", StringComparison.Ordinal) || e.Key.StartsWith("ASPNETCORE", StringComparison.Ordinal))
                .Select(e => $"'{e.Key}={e.Value}'").Prepend("env").Append($"{start.FileName} --urls http://127.0.0.1:5080 --App:PublicBaseUrl=http://127.0.0.1:5080")));
            Console.WriteLine($"export BENCH_TOKEN='{token}' BENCH_TENANTS={options.Tenants} BENCH_POOL={options.ResendPool} BENCH_POOL_BASE={Seed.ResendBase}");
            Console.WriteLine($"# list cursor 500,000 rows deep: {await database.CursorAtAsync(Seed.MillionTenant, 500_000)}");
            Console.WriteLine();
        }
    }

    public async Task MeasureProviderAsync(string provider)
    {
        var seed = new Seed(options.Tenants, options.ResendPool, options.AcceptPool);
        var resend = new Seed.Slices(options.ResendPool);
        var accept = new Seed.Slices(options.AcceptPool);
        var database = await Database.CreateAsync(provider, options);
        current = database;
        sink.Clear(); // both providers hand out the same ids, so the same Message-IDs
        var settings = new Service.Settings(options.App, options.Work, provider, database.ConnectionString, sink.Port, SigningKey);
        var log = Path.Combine(options.Work, $"service-{provider.ToLowerInvariant()}.log");
        File.Delete(log);

        Progress($"{provider}: migrating and seeding {options.Tenants} tenants, {options.ResendPool + options.AcceptPool + 1_001_000} invitations");
        var seeding = Stopwatch.StartNew();
        await Service.CommandAsync(settings, "migrate");
        await database.SeedAsync(seed);
        Progress($"{provider}: seeded in {seeding.Elapsed.TotalSeconds:0} s");
        if (provider == "Postgres")
        {
            PostgresVersion = await database.ScalarAsync<string>("SHOW server_version") ?? "";
            await CaptureSqlAsync(settings, resend);
        }

        var token = await Service.CommandAsync(settings, "token", "--sub", Seed.AdminSubject, "--email", Seed.AdminEmail, "--minutes", "600");
        var deepCursor = await database.CursorAtAsync(Seed.MillionTenant, 500_000);
        DateTime createFrom = default, createTo = default;
        await using (var service = await Service.StartAsync(settings, log))
        {
            await WarmUpAsync(service, provider, token, resend, accept);
            foreach (var connections in new[] { 32, 1 })
            {
                var common = new Dictionary<string, string> { ["BENCH_TOKEN"] = token, ["BENCH_TENANTS"] = $"{options.Tenants}" };
                await MeasureAsync(service, provider, "empty", "static.lua", connections, common, take: null, hold: false, ("BENCH_PATH", "/diagnostics/empty"));
                await MeasureAsync(service, provider, "get", "get.lua", connections, common, take: null, hold: false,
                    ("BENCH_POOL", $"{options.ResendPool}"), ("BENCH_POOL_BASE", $"{Seed.ResendBase}"));
                await MeasureAsync(service, provider, "list_1k", "static.lua", connections, common, take: null, hold: false, ("BENCH_PATH", $"/tenant/{Seed.ThousandTenant}/admin/user/invitation"));
                await MeasureAsync(service, provider, "list_1m", "static.lua", connections, common, take: null, hold: false, ("BENCH_PATH", $"/tenant/{Seed.MillionTenant}/admin/user/invitation"));
                await MeasureAsync(service, provider, "list_1m_deep", "static.lua", connections, common, take: null, hold: false,
                    ("BENCH_PATH", $"/tenant/{Seed.MillionTenant}/admin/user/invitation?after={deepCursor}"));

                // At 32 connections the sink holds delivery while create and resend run, so they measure the request alone, as
                // pgbench runs the request's statements alone; the emails they queue are then the backlog whose drain is timed.
                // At 1 connection the dispatcher sends as the requests come, and that is where the email latency is taken.
                var hold = connections == 32;
                if (!hold)
                {
                    // The 1-connection create run's invitation.created events are the webhook backlog whose drain is timed.
                    await RegisterWebhooksAsync(service, settings);
                }
                var before = await database.CountsAsync();
                var from = DateTime.UtcNow;
                var created = await MeasureAsync(service, provider, "create", "create.lua", connections, common, _ => 0, hold, ("BENCH_RUN", $"c{connections}"));
                var to = DateTime.UtcNow;
                if (hold)
                {
                    await DrainAsync(provider, service, database, from, to);
                }
                else
                {
                    (createFrom, createTo) = (from, to);
                    await WebhookDrainAsync(provider, service, database, from);
                }
                var after = await database.CountsAsync();
                Expect(provider, $"create c{connections}: one invitation and one queued email per 201", after.Invitations - before.Invitations == after.Outbox - before.Outbox
                    && Answered(after.Invitations - before.Invitations, created, connections),
                    $"{created} created; invitations +{after.Invitations - before.Invitations}, outbox +{after.Outbox - before.Outbox}");

                before = after;
                var resent = await MeasureAsync(service, provider, "resend", "resend.lua", connections, common, resend.Take, hold,
                    ("BENCH_POOL_BASE", $"{Seed.ResendBase}"));
                sink.Release();
                after = await database.CountsAsync();
                Expect(provider, $"resend c{connections}: one queued email and one more send per 200", after.Outbox - before.Outbox == after.Sends - before.Sends
                    && Answered(after.Outbox - before.Outbox, resent, connections),
                    $"{resent} resent; outbox +{after.Outbox - before.Outbox}, sends +{after.Sends - before.Sends}");

                before = after;
                var accepted = await MeasureAsync(service, provider, "accept", "accept.lua", connections,
                    new Dictionary<string, string> { ["BENCH_TENANTS"] = $"{options.Tenants}" }, accept.Take, hold: false);
                after = await database.CountsAsync();
                Expect(provider, $"accept c{connections}: one accepted invitation and one member per 200", after.Accepted - before.Accepted == after.Members - before.Members
                    && Answered(after.Accepted - before.Accepted, accepted, connections),
                    $"{accepted} accepted; accepted +{after.Accepted - before.Accepted}, members +{after.Members - before.Members}");
            }
            if (provider == "Postgres")
            {
                await BulkAndImportAsync(service, database, token);
            }
            Progress($"{provider}: waiting for the outbox to empty");
            var drained = await WaitForOutboxAsync(database, TimeSpan.FromMinutes(options.Quick ? 2 : 5));
            Expect(provider, "every queued email was sent, once", drained && sink.Duplicates == 0,
                drained ? $"{sink.Count} emails received, {sink.Duplicates} twice" : "the outbox still had queued emails");
            var counts = await database.CountsAsync();
            Expect(provider, "no duplicate pending invitations", counts.DuplicatePending == 0, $"{counts.DuplicatePending} (tenant, email) pairs with more than one Pending");
            Expect(provider, "every email queued is an invitation's send", counts.Outbox == counts.Sends - counts.SeededSends,
                $"outbox {counts.Outbox}, sends beyond the seed {counts.Sends - counts.SeededSends}");
            Latencies.Add(LatencyOf(provider, await database.QueuedBetweenAsync(createFrom, createTo)));
            PeakRss[provider] = service.PeakRssMb();
            ExpectConcurrencyHelps(provider);
        }

        await MeasurePeerAsync(provider);
        if (provider == "Postgres")
        {
            // Last: the rows pgbench queues can't be sent (their tokens are not encrypted), so no dispatcher may see them.
            await FloorsAsync(database, resend, accept);
            await BaselinesAsync(database, resend);
        }
    }

    // A fresh process runs its first minutes on code that is still being compiled and tiered up; every endpoint is
    // loaded at once for a while first, so that the runs measure the steady state.
    private async Task WarmUpAsync(Service service, string provider, string token, Seed.Slices resend, Seed.Slices accept)
    {
        Progress($"{provider}: warming up for {options.WarmUpAll} s");
        var common = new Dictionary<string, string> { ["BENCH_TOKEN"] = token, ["BENCH_TENANTS"] = $"{options.Tenants}",
            ["BENCH_POOL"] = $"{options.ResendPool}", ["BENCH_POOL_BASE"] = $"{Seed.ResendBase}", ["BENCH_RUN"] = "warm",
            ["BENCH_PATH"] = $"/tenant/{Seed.ThousandTenant}/admin/user/invitation" };
        var runs = new[] { ("get.lua", 0), ("static.lua", 0), ("create.lua", 0), ("resend.lua", resend.Take(1_000 * options.WarmUpAll)), ("accept.lua", accept.Take(1_000 * options.WarmUpAll)) }
            .Select(r => Wrk.RunAsync(options.Scripts, provider, "warm-up", r.Item1, service.BaseUrl, 6, options.WarmUpAll,
                new Dictionary<string, string>(common) { ["BENCH_FIRST"] = $"{r.Item2}", ["BENCH_TOKEN"] = r.Item1 == "accept.lua" ? "" : token }, options.Work));
        await Task.WhenAll(runs);
    }

    private async Task CaptureSqlAsync(Service.Settings settings, Seed.Slices resend)
    {
        var log = Path.Combine(options.Work, "capture.log");
        File.Delete(log);
        var token = await Service.CommandAsync(settings, "token", "--sub", Seed.AdminSubject, "--email", Seed.AdminEmail);
        var index = resend.Take(1);
        var tenant = 1 + index % options.Tenants;
        var createPath = "/tenant/1/admin/user/invitation";
        var resendPath = $"/tenant/{tenant}/admin/user/invitation/resend";
        await using (var service = await Service.StartAsync(settings, log, SqlCapture.LoggingSettings))
        {
            using var http = new HttpClient { BaseAddress = new Uri(service.BaseUrl) };
            http.DefaultRequestHeaders.Authorization = new("Bearer", token);
            using var create = await http.PostAsync(createPath, new StringContent("""{"email":"capture@bench.test","role":"Member"}""", Encoding.UTF8, "application/json"));
            using var resent = await http.PutAsync($"{resendPath}?id={Seed.ResendBase + index}", null);
            if (!create.IsSuccessStatusCode || !resent.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"The capture requests failed: {create.StatusCode}, {resent.StatusCode}");
            }
            await Task.Delay(500); // the console logger writes in the background
        }
        foreach (var (name, path) in new[] { ("create", createPath), ("resend", resendPath) })
        {
            var commands = SqlCapture.CommandsOf(log, path);
            await File.WriteAllTextAsync(Path.Combine(options.Work, $"captured-{name}.sql"), string.Join(";\n\n", commands) + ";\n");
            foreach (var difference in SqlCapture.Compare(commands, Path.Combine(options.Scripts, "..", "pgbench", $"{name}.sql")))
            {
                SqlDifferences.Add($"{name}: {difference}");
            }
        }
        Progress(SqlDifferences.Count == 0 ? "Postgres: the pgbench scripts match the captured SQL" : $"Postgres: the pgbench scripts differ from the captured SQL:\n{string.Join('\n', SqlDifferences)}");
    }

    // The better-auth peer (bench/peers/better-auth) right after the service, on the same PostgreSQL server (its own database)
    // or its own SQLite file, seeded to the same shape, warmed up as the service is, and loaded by the same wrk settings.
    private async Task MeasurePeerAsync(string provider)
    {
        var connection = provider == "Postgres"
            ? $"Host=127.0.0.1;Port={options.PostgresPort};Username=postgres"
            : Path.Combine(options.Work, "peer-sqlite", "peer.db");
        Progress($"{provider}: seeding and starting the better-auth peer");
        await using var peer = await Peer.StartAsync(options.PeerDirectory, provider, connection, options.Tenants, options.ResendPool, options.Work);
        Progress($"{provider}: the peer seeded in {peer.Seeding.TotalSeconds:0} s");
        var pool = new Seed.Slices(peer.ResendPool);
        const int PerSecond = 2_000; // rows for several times the peer's fastest resend seen here
        Dictionary<string, string> Environment(string scenario, int seconds, string run)
        {
            var environment = new Dictionary<string, string>(peer.WrkEnvironment) { ["BENCH_RUN"] = run, ["BENCH_FIRST"] = "0" };
            if (scenario == "resend")
            {
                environment["BENCH_FIRST"] = $"{pool.Take(PerSecond * seconds)}";
            }
            return environment;
        }
        await Task.WhenAll(Peer.Scenarios.Select(s => Wrk.RunAsync(options.Scripts, provider, "peer warm-up", s.Script, peer.BaseUrl, 6, options.WarmUpAll,
            Environment(s.Scenario, options.WarmUpAll, "warm"), options.Work)));
        foreach (var connections in new[] { 32, 1 })
        {
            foreach (var (scenario, script) in Peer.Scenarios)
            {
                foreach (var (seconds, measure) in new[] { (options.Warmup, false), (options.Seconds, true) })
                {
                    var name = $"peer_{scenario}";
                    var measured = await Wrk.RunAsync(options.Scripts, provider, name, script, peer.BaseUrl, connections, seconds,
                        Environment(scenario, seconds, $"c{connections}-{(measure ? "m" : "w")}"), options.Work, peer.ProcessId);
                    if (measure)
                    {
                        Measurements.Add(measured);
                        Progress($"{provider} {name} c{connections}: {measured.Throughput:0} req/s, p50 {measured.P50:0.00} ms, p99 {measured.P99:0.00} ms, {measured.Failed} failed");
                        Expect(provider, $"{name} c{connections}: no failed request", measured.Failed == 0, $"{measured.Failed} of {measured.Requests}");
                    }
                }
            }
        }
        PeerRss[provider] = peer.PeakRssMb();
    }

    // The floors: for each request, the least SQL that does what it must, in one statement (bench/pgbench/*_floor.sql), run by
    // pgbench -M prepared at 32 connections on the same database right after the service. A write floor must have written a
    // row for every transaction it counts, or it measured a guard refusing (a pool used up, say), not the work.
    private async Task FloorsAsync(Database database, Seed.Slices resend, Seed.Slices accept)
    {
        const int Connections = 32;
        // The service's runs start on a vacuumed, analyzed and checkpointed database (the seed does it); so do the floors,
        // or autovacuum and the checkpointer, catching up on what the service wrote, run beside them and count as theirs
        // (the full run of 2026-12-05 measured a floor get at 2,431 a second that way, against 10,000 to 21,000 in quick runs).
        Progress("Postgres: VACUUM ANALYZE and CHECKPOINT before the floors");
        await database.ScalarAsync<int>("VACUUM ANALYZE");
        await database.ScalarAsync<int>("CHECKPOINT");
        var now = DateTime.UtcNow;
        var invocation = 0;
        foreach (var scenario in new[] { "get", "list", "create", "resend", "accept" })
        {
            var script = Path.Combine(options.Scripts, "..", "pgbench", $"{scenario}_floor.sql");
            foreach (var (seconds, measure) in new[] { (options.Warmup, false), (options.Seconds, true) })
            {
                var pool = scenario switch
                {
                    "resend" => resend.Take(FloorPerSecond * seconds),
                    "accept" => accept.Take(FloorPerSecond * seconds),
                    _ => 0,
                };
                var variables = PgBenchVariables(now, Connections, pool, 3_000_000_000_000L + ++invocation * 100_000_000_000L);
                variables["pool"] = $"{options.ResendPool}";
                variables["list_tenant"] = $"{Seed.ThousandTenant}";
                var before = await database.CountsAsync();
                var measured = await PgBench.RunAsync(script, measure ? $"floor_{scenario}" : scenario, options.PostgresPort, database.Name, Connections, seconds, variables);
                var after = await database.CountsAsync();
                var written = scenario switch
                {
                    "create" or "resend" => after.Outbox - before.Outbox,
                    "accept" => after.Members - before.Members,
                    _ => measured.Requests,
                };
                Expect("Postgres", $"floor {scenario} {(measure ? "" : "warm-up ")}c{Connections}: every transaction did the request's work",
                    measured.Failed == 0 && measured.Requests >= MinimumRequests && written == measured.Requests,
                    $"{measured.Requests} transactions, {measured.Failed} failed, {written} written");
                if (measure)
                {
                    Measurements.Add(measured);
                    Progress($"Postgres floor {scenario} c{Connections}: {measured.Throughput:0} tps, {measured.Mean:0.00} ms mean, cpu/txn {measured.Cost}");
                }
            }
        }
    }

    // Rows for the fastest floor seen here (about 10,000/s) and some room.
    private const int FloorPerSecond = 14_000;

    private Dictionary<string, string> PgBenchVariables(DateTime now, int connections, int poolFirst, long idBase)
    {
        string Time(DateTime t) => t.ToString("yyyy-MM-dd HH:mm:ss.ffffff+00", CultureInfo.InvariantCulture);
        return new Dictionary<string, string>
        {
            ["tenants"] = $"{options.Tenants}", ["clients"] = $"{connections}", ["n"] = "0",
            ["pool_first"] = $"{poolFirst}", ["pool_base"] = $"{Seed.ResendBase}",
            ["id_base"] = $"{idBase}", // up to 4 ids per transaction, 32 clients of 1e8 each
            ["sub"] = Seed.AdminSubject, ["admin_email"] = Seed.AdminEmail, ["now"] = Time(now), ["hour_ago"] = Time(now.AddHours(-1)),
            ["day_ago"] = Time(now.AddDays(-1)), ["cooldown_edge"] = Time(now.AddSeconds(-60)), ["max_sends"] = "5",
            ["expires"] = Time(now.AddDays(7)), ["recent_sends"] = $"{{\"{Time(now)}\"}}", ["quota_offset"] = "999",
            ["protected_token"] = new string('P', 190), ["trace_id"] = new string('a', 32), ["client_address"] = "127.0.0.1",
            ["created_action"] = "invitation.created", ["resent_action"] = "invitation.resent", ["created_details"] = "role Member",
            ["resent_details"] = "send 2", ["target_type"] = "invitation", ["queued"] = "Queued", ["pending"] = "Pending",
            ["member"] = "Member", ["locale"] = "en", ["validity_days"] = "7", ["zero"] = "0", ["one"] = "1", ["false"] = "false",
            // The event's data: the invitation's model, about this long in the service.
            ["event_data"] = $"{{\"model\":\"{new string('m', 560)}\"}}",
        };
    }

    // pgbench running the captured statements, on the same database, right after the service's runs. Each invocation
    // gets rows of the resend pool no one used and ids of its own (the scripts count transactions per client in n).
    private async Task BaselinesAsync(Database database, Seed.Slices resend)
    {
        var now = DateTime.UtcNow;
        var invocation = 0;
        foreach (var connections in new[] { 32, 1 })
        {
            var perSecond = connections == 1 ? 2_000 : 4_000;
            foreach (var scenario in new[] { "resend", "create" })
            {
                var script = Path.Combine(options.Scripts, "..", "pgbench", $"{scenario}.sql");
                foreach (var (seconds, measure) in new[] { (options.Warmup, false), (options.Seconds, true) })
                {
                    var variables = PgBenchVariables(now, connections, scenario == "resend" ? resend.Take(perSecond * seconds) : 0,
                        1_000_000_000_000L + ++invocation * 100_000_000_000L);
                    var measured = await PgBench.RunAsync(script, measure ? $"pgbench_{scenario}" : scenario, options.PostgresPort, database.Name, connections, seconds, variables);
                    if (!measure)
                    {
                        continue;
                    }
                    Measurements.Add(measured);
                    Progress($"Postgres pgbench {scenario} c{connections}: {measured.Throughput:0} tps, {measured.Mean:0.00} ms mean, {measured.Failed} failed, cpu/txn {measured.Cost}");
                    Expect("Postgres", $"pgbench {scenario} c{connections}: no failed transactions", measured.Failed == 0, $"{measured.Failed} failed");
                }
            }
        }
    }

    public List<Drain> WebhookDrains { get; } = [];

    // Endpoints the webhook drain is timed on: platform endpoints for invitation.created, each a path of the receiver, which
    // holds its answers from now until the drain. Several, since a node delivers at most 4 at a time to one endpoint.
    private const int WebhookEndpoints = 8;

    private async Task RegisterWebhooksAsync(Service service, Service.Settings settings)
    {
        var token = await Service.CommandAsync(settings, "token", "--sub", "bench-platform", "--email", "platform@bench.test", "--platform-admin", "--minutes", "600");
        using var http = new HttpClient { BaseAddress = new Uri(service.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);
        receiver.Hold();
        receiver.Received.Clear();
        for (var i = 0; i < WebhookEndpoints; i++)
        {
            var body = $$"""{"url":"{{receiver.BaseUrl}}/{{i}}","types":["invitation.created"],"description":"benchmark drain {{i}}"}""";
            using var created = await http.PostAsync("/webhooks", new StringContent(body, Encoding.UTF8, "application/json"));
            if (!created.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"Registering a webhook endpoint failed: {created.StatusCode} {await created.Content.ReadAsStringAsync()}");
            }
        }
    }

    // The webhook drain, as the email drain: what the create run made while the receiver held its answers (every
    // invitation.created since the endpoints were registered, to each of them) is released at once and timed until its last
    // delivery arrives.
    private async Task WebhookDrainAsync(string provider, Service service, Database database, DateTime from)
    {
        var expected = WebhookEndpoints * await database.EventsSinceAsync("invitation.created", from);
        Progress($"{provider}: draining a backlog of {expected} webhook deliveries");
        var cpuBefore = Cpu.Take(service.ProcessId);
        var released = DateTime.UtcNow;
        receiver.Release();
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (receiver.Received.Count < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        var arrived = receiver.Received.Values.ToList();
        Expect(provider, "webhook drain: every delivery of the backlog arrived", arrived.Count == expected, $"{arrived.Count} of {expected}");
        var cost = Cpu.Per(cpuBefore, Cpu.Take(service.ProcessId), arrived.Count);
        var seconds = arrived.Count > 0 ? (arrived.Max() - released).TotalSeconds : double.NaN;
        WebhookDrains.Add(new Drain(provider, (int)expected, arrived.Count / seconds, cost));
        Progress($"{provider}: drained {arrived.Count} webhook deliveries at {arrived.Count / seconds:0} deliveries/s, cpu/delivery {cost}");
    }

    // The drain rate, on the warm service: what the held runs queued (the sink answered none of it) is released at once
    // and timed until its last email arrives.
    private async Task DrainAsync(string provider, Service service, Database database, DateTime from, DateTime to)
    {
        var backlog = await database.QueuedBetweenAsync(from, to);
        var held = sink.Waiting;
        Progress($"{provider}: draining a backlog of {backlog.Count} emails");
        var cpuBefore = Cpu.Take(service.ProcessId);
        var released = DateTime.UtcNow;
        sink.Release();
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (backlog.Any(m => !sink.Received.ContainsKey(m.MessageId)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        var arrived = backlog.Select(m => sink.Received.TryGetValue(m.MessageId, out var at) ? at : (DateTime?)null).Where(t => t is not null).Select(t => t!.Value).ToList();
        Expect(provider, "drain: every email of the backlog arrived", arrived.Count == backlog.Count && held == 1,
            $"{arrived.Count} of {backlog.Count}; {held} held by the sink at the start");
        var cost = Cpu.Per(cpuBefore, Cpu.Take(service.ProcessId), arrived.Count);
        var seconds = arrived.Count > 0 ? (arrived.Max() - released).TotalSeconds : double.NaN;
        Drains.Add(new Drain(provider, backlog.Count, arrived.Count / seconds, cost));
        Progress($"{provider}: drained {arrived.Count} emails at {arrived.Count / seconds:0} emails/s, cpu/email {cost}");
    }

    private EmailLatency LatencyOf(string provider, List<(string MessageId, DateTime CreatedAt)> queued)
    {
        var latencies = queued.Where(m => sink.Received.ContainsKey(m.MessageId))
            .Select(m => (sink.Received[m.MessageId] - m.CreatedAt).TotalMilliseconds).Order().ToList();
        return new EmailLatency(provider, latencies.Count, Percentile(latencies, 50), Percentile(latencies, 99));
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

    // Each run starts with an empty outbox, so no run pays for the emails of the one before.
    private async Task SettleAsync(string provider)
    {
        if (current is { } database && !await WaitForOutboxAsync(database, TimeSpan.FromMinutes(2)))
        {
            Expect(provider, "the outbox empties between runs", false, "emails were still queued after 2 minutes");
        }
    }

    private Database? current;

    private async Task<bool> WaitForOutboxAsync(Database database, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE status = 'Queued'") == 0)
            {
                return true;
            }
            await Task.Delay(200);
        }
        return false;
    }

    // One scenario: a warm-up, then the measured run. A write scenario (take) gives each its own rows of its pool, and hold
    // keeps email delivery held through both. Returns how many requests succeeded in both.
    private async Task<long> MeasureAsync(Service service, string provider, string scenario, string script, int connections,
        Dictionary<string, string> common, Func<int, int>? take, bool hold, params (string Key, string Value)[] extra)
    {
        await SettleAsync(provider);
        if (hold)
        {
            sink.Hold();
        }
        // Rows for twice the fastest rate seen here: 6,000/s at 32 connections, 3,000/s at 1.
        var perSecond = connections == 1 ? 3_000 : 6_000;
        var succeeded = 0L;
        foreach (var (seconds, measure) in new[] { (options.Warmup, false), (options.Seconds, true) })
        {
            var environment = new Dictionary<string, string>(common);
            foreach (var (key, value) in extra)
            {
                environment[key] = value;
            }
            if (take is not null)
            {
                environment["BENCH_FIRST"] = $"{take(perSecond * seconds)}";
                environment["BENCH_RUN"] = $"{environment.GetValueOrDefault("BENCH_RUN", scenario)}-{(measure ? "m" : "w")}";
            }
            using var sampling = new CancellationTokenSource();
            var samples = measure ? SampleActivityAsync(sampling.Token) : Task.FromResult(new List<string>());
            var measured = await Wrk.RunAsync(options.Scripts, provider, scenario, script, service.BaseUrl, connections, seconds, environment, options.Work, service.ProcessId);
            await sampling.CancelAsync();
            var activity = await samples;
            succeeded += measured.Succeeded;
            if (measure && (measured.Requests < MinimumRequests || measured.Max > SlowestAllowed.TotalMilliseconds || measured.P99 > SlowP99.TotalMilliseconds))
            {
                // What the database was doing meanwhile, to find the cause of a stall.
                Progress($"{provider} {scenario} c{connections} stalled (p99 {measured.P99:0} ms, slowest {measured.Max:0} ms); PostgreSQL's busy sessions during the run:\n{string.Join("\n--\n", activity)}");
            }
            if (measure)
            {
                activities[(provider, scenario, connections)] = activity;
            }
            if (measure)
            {
                Measurements.Add(measured);
                Progress($"{provider} {scenario} c{connections}: {measured.Throughput:0} req/s, p50 {measured.P50:0.00} ms, p99 {measured.P99:0.00} ms, {measured.Failed} failed, cpu/req {measured.Cost}");
                Expect(provider, $"{scenario} c{connections}: no failed request", measured.Failed == 0, $"{measured.Failed} of {measured.Requests}");
                // A run that stalls fails no request: it completes few, or some take seconds.
                Expect(provider, $"{scenario} c{connections}: at least {MinimumRequests} requests", measured.Requests >= MinimumRequests,
                    $"{measured.Requests} in {options.Seconds} s");
                Expect(provider, $"{scenario} c{connections}: no request over {SlowestAllowed.TotalSeconds:0} s",
                    measured.Max <= SlowestAllowed.TotalMilliseconds, $"the slowest took {measured.Max:0} ms");
            }
        }
        return succeeded;
    }

    // wrk stops with up to one request per connection in flight (twice: warm-up and measurement; one more was seen once
    // at 1 connection); the service still completes those, so the database may hold that many more than wrk counted,
    // never fewer.
    private static bool Answered(long inDatabase, long answered, int connections) =>
        inDatabase >= answered && inDatabase <= answered + 2 * (connections + 1);

    // Every half second of a measured run, what PostgreSQL's busy sessions wait on, and the
    // machine's CPU time in those half seconds that went to waiting on disk and to the hypervisor (steal: a virtual machine's
    // cores given to someone else), which a stall with nothing busy in PostgreSQL or the service points to.
    private async Task<List<string>> SampleActivityAsync(CancellationToken stop)
    {
        var seen = new List<string>();
        var machine = MachineCpu.Read();
        while (!stop.IsCancellationRequested && current is { } database)
        {
            try
            {
                var activity = await database.ActivityAsync();
                var (before, after) = (machine, MachineCpu.Read());
                machine = after;
                seen.Add($"[{DateTime.UtcNow:HH:mm:ss.f}] machine: steal {after.Steal - before.Steal} ms, iowait {after.IoWait - before.IoWait} ms, idle {after.Idle - before.Idle} ms"
                    + (activity.Length > 0 ? $"\n{activity}" : ""));
                await Task.Delay(500, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        return seen;
    }

    private readonly Dictionary<(string Provider, string Scenario, int Connections), List<string>> activities = [];

    private const int MinimumRequests = 100;
    // A p99 this slow is shown with the database's activity even when every check passes: it is how a stall starts.
    private static readonly TimeSpan SlowP99 = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan SlowestAllowed = TimeSpan.FromSeconds(2);

    // With 32 connections a scenario does at least half of what it does with 1: less means requests wait on each other.
    private void ExpectConcurrencyHelps(string provider)
    {
        foreach (var scenario in Measurements.Where(m => m.Provider == provider && m.Tool == "wrk").Select(m => m.Scenario).Distinct())
        {
            var one = Measurements.FirstOrDefault(m => m.Provider == provider && m.Scenario == scenario && m.Tool == "wrk" && m.Connections == 1);
            var many = Measurements.FirstOrDefault(m => m.Provider == provider && m.Scenario == scenario && m.Tool == "wrk" && m.Connections == 32);
            if (one is not null && many is not null)
            {
                Expect(provider, $"{scenario} c32: at least half the throughput of c1", many.Throughput >= one.Throughput / 2,
                    $"{many.Throughput:0} req/s at 32 connections, {one.Throughput:0} at 1");
                if (many.Throughput < one.Throughput / 2 && activities.TryGetValue((provider, scenario, 32), out var activity))
                {
                    Progress($"{provider} {scenario} c32: PostgreSQL's busy sessions during the run:\n{string.Join("\n--\n", activity)}");
                }
            }
        }
    }

    private void Expect(string provider, string name, bool passed, string detail)
    {
        Checks.Add(new Check(provider, name, passed, detail));
        if (!passed)
        {
            Progress($"CHECK FAILED ({provider}): {name}: {detail}");
        }
    }

    public static void Progress(string message) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");
}

// The benchmark's database on either provider: created empty, seeded, and read for the checks.
internal sealed class Database
{
    private readonly NpgsqlDataSource? postgres;
    private readonly string? sqlite;

    private Database(string name, string connectionString, NpgsqlDataSource? postgres, string? sqlite)
    {
        Name = name;
        ConnectionString = connectionString;
        this.postgres = postgres;
        this.sqlite = sqlite;
    }

    public string Name { get; }
    public string ConnectionString { get; }

    public static async Task<Database> CreateAsync(string provider, BenchOptions options)
    {
        if (provider == "Postgres")
        {
            var server = $"Host=127.0.0.1;Port={options.PostgresPort};Username=postgres";
            await using (var admin = NpgsqlDataSource.Create($"{server};Database=postgres"))
            {
                await using var drop = admin.CreateCommand("DROP DATABASE IF EXISTS bench WITH (FORCE)");
                await drop.ExecuteNonQueryAsync();
                await using var create = admin.CreateCommand("CREATE DATABASE bench");
                await create.ExecuteNonQueryAsync();
            }
            var connectionString = $"{server};Database=bench";
            return new Database("bench", connectionString, NpgsqlDataSource.Create(connectionString), null);
        }
        var path = Path.Combine(options.Work, "sqlite", "invitations.db");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(path)!))
        {
            File.Delete(file);
        }
        return new Database(path, $"Data Source={path}", null, $"Data Source={path};Pooling=False");
    }

    public Task ExecuteAsync(string sql) => WithCommandAsync(sql, c => c.ExecuteNonQueryAsync());

    public Task SeedAsync(Seed seed) => postgres is not null ? seed.WritePostgresAsync(postgres) : seed.WriteSqliteAsync(sqlite!);

    public async Task<T?> ScalarAsync<T>(string sql)
    {
        var value = await WithCommandAsync(sql, c => c.ExecuteScalarAsync());
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, typeof(T), CultureInfo.InvariantCulture);
    }

    public record Counts(long Invitations, long Outbox, long Sends, long SeededSends, long Accepted, long Members, long DuplicatePending);

    // PostgreSQL's sessions on this database that are not idle, with what they wait on: sampled during a run, shown when it stalls.
    public Task<string> ActivityAsync() => postgres is null ? Task.FromResult("") : WithCommandAsync("""
        SELECT coalesce(string_agg(format('%s %s/%s %s', state, coalesce(wait_event_type, '-'), coalesce(wait_event, '-'),
            left(regexp_replace(query, '\s+', ' ', 'g'), 140)), E'\n' ORDER BY query), '')
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
        """, async c => (string)(await c.ExecuteScalarAsync())!);

    public Task<Counts> CountsAsync() => WithCommandAsync("""
        SELECT (SELECT count(*) FROM invitations),
               (SELECT count(*) FROM outbox_messages),
               (SELECT sum(send_count) FROM invitations),
               (SELECT count(*) FROM invitations WHERE id >= 100000000 AND id < 500000000),
               (SELECT count(*) FROM invitations WHERE status = 'Accepted'),
               (SELECT count(*) FROM memberships),
               (SELECT count(*) FROM (SELECT 1 FROM invitations WHERE status = 'Pending' GROUP BY tenant_id, normalized_email HAVING count(*) > 1) d)
        """, async command =>
    {
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new Counts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6));
    });

    public Task<long> EventsSinceAsync(string type, DateTime from) =>
        WithCommandAsync($"SELECT count(*) FROM events WHERE type = '{type}' AND occurred_at >= {Time(from)}", async c => Convert.ToInt64(await c.ExecuteScalarAsync(), CultureInfo.InvariantCulture));

    // The emails queued in a time window, with when they were queued.
    public Task<List<(string MessageId, DateTime CreatedAt)>> QueuedBetweenAsync(DateTime from, DateTime to) =>
        WithCommandAsync($"SELECT message_id, created_at FROM outbox_messages WHERE created_at >= {Time(from)} AND created_at <= {Time(to)}", async command =>
        {
            var rows = new List<(string, DateTime)>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetString(0), ReadTime(reader, 1)));
            }
            return rows;
        });

    // The list endpoint's cursor after the row at this position (newest first), as the service encodes it.
    public Task<string> CursorAtAsync(long tenant, int position) =>
        WithCommandAsync($"SELECT created_at, id FROM invitations WHERE tenant_id = {tenant} ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET {position - 1}", async command =>
        {
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            var at = ReadTime(reader, 0);
            return Base64Url.EncodeToString(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{at.Ticks}.{reader.GetInt64(1)}")));
        });

    private string Time(DateTime t) => postgres is not null
        ? $"'{t:yyyy-MM-dd HH:mm:ss.ffffff}+00'"
        : $"'{t:yyyy-MM-dd HH:mm:ss.fff}'";

    private static DateTime ReadTime(System.Data.Common.DbDataReader reader, int column) =>
        reader.GetFieldType(column) == typeof(string)
            ? DateTime.SpecifyKind(DateTime.Parse(reader.GetString(column), CultureInfo.InvariantCulture), DateTimeKind.Utc)
            : DateTime.SpecifyKind(reader.GetDateTime(column).ToUniversalTime(), DateTimeKind.Utc);

    private async Task<T> WithCommandAsync<T>(string sql, Func<System.Data.Common.DbCommand, Task<T>> use)
    {
        if (postgres is not null)
        {
            await using var command = postgres.CreateCommand(sql);
            command.CommandTimeout = 300;
            return await use(command);
        }
        await using var connection = new SqliteConnection(sqlite);
        await connection.OpenAsync();
        await using var sqliteCommand = connection.CreateCommand();
        sqliteCommand.CommandText = sql;
        sqliteCommand.CommandTimeout = 300;
        return await use(sqliteCommand);
    }
}
