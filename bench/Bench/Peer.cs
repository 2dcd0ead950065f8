using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace TenantInvitations.Bench;

// The better-auth peer (bench/peers/better-auth): a Node server on better-auth's organization plugin, migrated and seeded to
// the service's shape, measured by the bench/wrk/peer_*.lua scripts. What each script does and where the peer does less
// than the service is in that folder's README.md.
internal sealed class Peer : IAsyncDisposable
{
    public const string PostgresDatabase = "peer";

    // Scenario names as the service's runs use them, with the script that measures the peer's counterpart.
    public static readonly IReadOnlyList<(string Scenario, string Script)> Scenarios =
        [("get", "peer_get.lua"), ("list_1k", "peer_list.lua"), ("resend", "peer_resend.lua"), ("create", "peer_create.lua")];

    // For the report, beside the side-by-side table: what the peer's request leaves out that the service's does.
    public static readonly IReadOnlyList<string> DoesLess =
    [
        "get: better-auth answers get-invitation to the invitee only (an admin gets 403), so the peer's get is the invitee reading one of its own invitations",
        "list: list-invitations has no paging, no order and no filter; it returns the first 100 rows the database gives (the adapter's default findMany limit), so no row past the 100th can be read at all",
        "resend: invite-member with resend: true moves the expiry of the pending invitation; no cooldown, no daily quota, no transaction, no new token",
        "create: its checks and its insert are separate statements with no transaction and no unique pending address (concurrent creates for one address both insert)",
        "create and resend: no email is sent or queued (sendInvitationEmail is a no-op; better-auth has no outbox), no audit record, no event",
    ];

    private static readonly string StampName = ".bench-lock-sha256";

    private readonly Process process;
    private readonly StreamWriter log;

    private Peer(Process process, StreamWriter log, int port, string cookie, string inviteeCookie, int tenants, int resendPool, TimeSpan seeding)
    {
        this.process = process;
        this.log = log;
        Port = port;
        BaseUrl = $"http://127.0.0.1:{port}";
        Cookie = cookie;
        InviteeCookie = inviteeCookie;
        Tenants = tenants;
        ResendPool = resendPool;
        Seeding = seeding;
    }

    public int Port { get; }
    public string BaseUrl { get; }
    public int ProcessId => process.Id;

    // "better-auth.session_token=<token>.<signature>": the admin's session (member with role admin of every organization)
    // and the invitee's (invited to every organization), signed with this run's secret.
    public string Cookie { get; }
    public string InviteeCookie { get; }
    public int Tenants { get; }
    public int ResendPool { get; }

    // migrate and seed, together.
    public TimeSpan Seeding { get; }

    // What every peer script reads. A run adds BENCH_FIRST (resend and create: its slice of the pool, as for the service)
    // and BENCH_RUN (create: a name no earlier run used, or its addresses are already invited).
    public IReadOnlyDictionary<string, string> WrkEnvironment => new Dictionary<string, string>
    {
        ["BENCH_COOKIE"] = Cookie,
        ["BENCH_INVITEE_COOKIE"] = InviteeCookie,
        ["BENCH_ORIGIN"] = BaseUrl,
        ["BENCH_TENANTS"] = Tenants.ToString(CultureInfo.InvariantCulture),
    };

    // npm ci only when node_modules is missing or was installed from another package-lock.json: better-sqlite3 compiles
    // from source here (its prebuilt binaries come from GitHub, out of reach), which takes a minute or two.
    public static async Task EnsureInstalledAsync(string peerDir)
    {
        var lockHash = Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(peerDir, "package-lock.json"))));
        var stamp = Path.Combine(peerDir, "node_modules", StampName);
        if (File.Exists(stamp) && (await File.ReadAllTextAsync(stamp)).Trim() == lockHash)
        {
            return;
        }
        var info = new ProcessStartInfo("npm")
        {
            WorkingDirectory = peerDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "ci", "--no-audit", "--no-fund" })
        {
            info.ArgumentList.Add(arg);
        }
        var (code, output, error) = await RunAsync(info, "npm did not start; the better-auth peer needs node and npm on PATH.");
        if (code != 0)
        {
            throw new InvalidOperationException($"npm ci in {peerDir} exited with {code}:\n{output}{error}");
        }
        await File.WriteAllTextAsync(stamp, lockHash);
    }

    // provider: "Postgres" or "Sqlite". connection: for PostgreSQL an Npgsql connection string naming the server (its
    // database is ignored: the peer gets its own, `peer`, made afresh); for SQLite the peer's own file, a path or
    // "Data Source=path", deleted first with its -wal and -shm (so not the service's). Logs go to work/peer-{provider}.log.
    public static async Task<Peer> StartAsync(string peerDir, string provider, string connection, int tenants, int resendPool, string work)
    {
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var (kind, database) = provider switch
        {
            "Postgres" => ("postgres", await CreatePostgresAsync(connection)),
            "Sqlite" => ("sqlite", ResetSqlite(connection)),
            _ => throw new ArgumentException($"Unknown provider {provider}.", nameof(provider)),
        };
        Directory.CreateDirectory(work);
        var logPath = Path.Combine(work, $"peer-{provider.ToLowerInvariant()}.log");
        File.Delete(logPath);

        var seeding = Stopwatch.StartNew();
        await CommandAsync(peerDir, kind, database, secret, logPath, "migrate");
        // The accept pool as large as the resend pool and the million-invitation organization, as the service's seed
        // (BenchOptions), so both invitation tables hold as many rows.
        var printed = await CommandAsync(peerDir, kind, database, secret, logPath, "seed",
            tenants.ToString(CultureInfo.InvariantCulture), resendPool.ToString(CultureInfo.InvariantCulture));
        seeding.Stop();
        using var seeded = JsonDocument.Parse(printed.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        var cookie = seeded.RootElement.GetProperty("cookie").GetString()!;
        var inviteeCookie = seeded.RootElement.GetProperty("inviteeCookie").GetString()!;

        var port = Service.FreePort();
        var info = StartInfo(peerDir, kind, database, secret, "serve", port.ToString(CultureInfo.InvariantCulture));
        var process = Process.Start(info) ?? throw new InvalidOperationException("node did not start; the better-auth peer needs node on PATH.");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var peer = new Peer(process, log, port, cookie, inviteeCookie, tenants, resendPool, seeding.Elapsed);
        try
        {
            await peer.WaitReadyAsync(logPath);
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }
        return peer;
    }

    // The most resident memory the process has had (VmHWM), in MB.
    public double PeakRssMb()
    {
        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            }
        }
        throw new InvalidOperationException("No VmHWM in /proc status.");
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])) // closes its pool and exits
            {
                await kill.WaitForExitAsync();
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        process.Dispose();
        lock (log)
        {
            log.Dispose();
        }
    }

    // Ready once better-auth itself answers (its context is built on the first request, which the runs should not pay) and
    // takes the seeded cookie: a cookie signed differently would turn every measured request into a 401.
    private async Task WaitReadyAsync(string logPath)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The better-auth peer exited with {process.ExitCode} at start; see {logPath}.");
            }
            try
            {
                if ((await http.GetAsync($"{BaseUrl}/api/auth/ok")).IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The better-auth peer was not ready within 60 s; see {logPath}.");
            }
            await Task.Delay(100);
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{BaseUrl}/api/auth/get-session");
        request.Headers.Add("Cookie", Cookie);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode || !body.Contains("\"admin@bench.test\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The better-auth peer did not take the seeded session cookie: {(int)response.StatusCode} {body}");
        }
    }

    private static async Task<string> CreatePostgresAsync(string connection)
    {
        var server = new NpgsqlConnectionStringBuilder(connection) { Database = "postgres", Pooling = false };
        await using (var admin = NpgsqlDataSource.Create(server.ConnectionString))
        {
            await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS {PostgresDatabase} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
            await using var create = admin.CreateCommand($"CREATE DATABASE {PostgresDatabase}");
            await create.ExecuteNonQueryAsync();
        }
        // node-postgres takes a URL, not Npgsql's key=value form.
        var url = new UriBuilder("postgres", server.Host ?? "127.0.0.1", server.Port, PostgresDatabase)
        {
            UserName = Uri.EscapeDataString(server.Username ?? "postgres"),
            Password = server.Password is { Length: > 0 } password ? Uri.EscapeDataString(password) : "",
        };
        return url.Uri.AbsoluteUri;
    }

    private static string ResetSqlite(string connection)
    {
        var path = connection.Contains('=') ? new SqliteConnectionStringBuilder(connection).DataSource : connection;
        path = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
        return path;
    }

    private static async Task<string> CommandAsync(string peerDir, string kind, string database, string secret, string logPath, params string[] args)
    {
        var (code, output, error) = await RunAsync(StartInfo(peerDir, kind, database, secret, args), "node did not start; the better-auth peer needs node on PATH.");
        await File.AppendAllTextAsync(logPath, $"== {string.Join(' ', args)}\n{output}{error}\n");
        if (code != 0)
        {
            throw new InvalidOperationException($"`node server.mjs {args[0]}` exited with {code}; see {logPath}.");
        }
        return output;
    }

    private static ProcessStartInfo StartInfo(string peerDir, string kind, string database, string secret, params string[] args)
    {
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = peerDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("server.mjs");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["NODE_ENV"] = "production";
        info.Environment["PEER_PROVIDER"] = kind;
        info.Environment["PEER_DATABASE"] = database;
        info.Environment["PEER_SECRET"] = secret;
        return info;
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(ProcessStartInfo info, string notStarted)
    {
        using var process = Process.Start(info) ?? throw new InvalidOperationException(notStarted);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }
}
