using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace TenantInvitations.Bench;

// The published service (artifacts/bench/app), run as its own process in Production with settings in its environment.
internal sealed class Service : IAsyncDisposable
{
    private readonly Process process;
    private readonly StreamWriter log;

    private Service(Process process, StreamWriter log, int port)
    {
        this.process = process;
        this.log = log;
        Port = port;
        BaseUrl = $"http://127.0.0.1:{port}";
    }

    public int Port { get; }
    public string BaseUrl { get; }
    public int ProcessId => process.Id;

    public static async Task<Service> StartAsync(Settings settings, string logPath, params (string Key, string Value)[] extra)
    {
        var port = FreePort();
        var info = settings.StartInfo("--urls", $"http://127.0.0.1:{port}");
        info.Environment["App__PublicBaseUrl"] = $"http://127.0.0.1:{port}";
        foreach (var (key, value) in extra)
        {
            info.Environment[key] = value;
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("The service did not start.");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new Service(process, log, port);
        await service.WaitReadyAsync(logPath);
        return service;
    }

    // Runs the service's own `migrate` or `token` command and returns what it printed.
    public static async Task<string> CommandAsync(Settings settings, params string[] args)
    {
        var info = settings.StartInfo(args);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("The command did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{args[0]}` exited with {process.ExitCode}: {await error}{await output}");
        }
        return (await output).Trim();
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
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])) // the service drains and exits
            {
                await kill.WaitForExitAsync();
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
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

    private async Task WaitReadyAsync(string logPath)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The service exited with {process.ExitCode} at start; see {logPath}.");
            }
            try
            {
                if ((await http.GetAsync($"{BaseUrl}/health/ready")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"The service was not ready within 60 s; see {logPath}.");
    }

    public static int FreePort()
    {
        using var probe = new TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    // What every run of the service shares: the binary, the provider and database, the mail sink, the signing key.
    internal sealed record Settings(string App, string WorkDirectory, string Provider, string ConnectionString, int SmtpPort, string SigningKey)
    {
        public ProcessStartInfo StartInfo(params string[] args)
        {
            var info = new ProcessStartInfo(Path.Combine(App, "TenantInvitations"))
            {
                WorkingDirectory = WorkDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }
            var env = info.Environment;
            env["ASPNETCORE_ENVIRONMENT"] = "Production";
            env["App__PublicBaseUrl"] = "http://127.0.0.1";
            env["Auth__SigningKey"] = SigningKey;
            env["Storage__Provider"] = Provider;
            env["ConnectionStrings__Invitations"] = ConnectionString;
            env["Email__Smtp__Host"] = "127.0.0.1";
            env["Email__Smtp__Port"] = SmtpPort.ToString(CultureInfo.InvariantCulture);
            env["Email__Smtp__UseTls"] = "false";
            // A held email waits for the whole of a run (up to 30 s in the full run), past the default 30 s timeout.
            env["Email__Smtp__Timeout"] = "00:03:00";
            // wrk and the accept benchmark come from one address; the per-client limit on token endpoints would stop them.
            env["RateLimits__TokenRequestsPerMinute"] = "1000000";
            env["Diagnostics__EmptyEndpoint"] = "true";
            // The webhook drain (WebhookReceiver): a plain-HTTP receiver on loopback, held for up to a run (a minute at most,
            // the timeout's ceiling), and a pace per endpoint that does not cap it (the default is 50 a second per endpoint).
            env["Webhooks__AllowHttp"] = "true";
            env["Webhooks__AllowPrivateNetworks"] = "true";
            env["Webhooks__Timeout"] = "00:01:00";
            env["Webhooks__LeaseDuration"] = "00:02:00";
            env["Webhooks__MaxPerSecondPerEndpoint"] = "10000";
            return info;
        }
    }
}
