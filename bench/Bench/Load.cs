using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace TenantInvitations.Bench;

// What one load run measured. Latencies in milliseconds.
internal sealed record Measurement(string Provider, string Scenario, int Connections, double Throughput, double P50, double P90, double P99,
    double Mean, long Requests, long Failed, string Tool)
{
    public long Succeeded => Requests - Failed;

    // The slowest request that completed (wrk only).
    public double Max { get; init; } = double.NaN;

    // CPU time per request (ms) over the run: the service process, PostgreSQL's processes, everything else (the load generator).
    public Cpu.PerRequest? Cost { get; set; }
}

// CPU time from /proc, in seconds: one process, every process of a name, and the whole machine.
internal static class Cpu
{
    private static readonly double Tick = 100.0; // USER_HZ on Linux

    public sealed record Sample(double Service, double Postgres, double Machine);

    public sealed record PerRequest(double Service, double Postgres, double Other);

    public static Sample Take(int servicePid)
    {
        double service = 0, postgres = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(directory);
            if (!int.TryParse(name, out var pid))
            {
                continue;
            }
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var command = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                double Field(int index) => double.Parse(fields[index], CultureInfo.InvariantCulture) / Tick;
                if (pid == servicePid)
                {
                    service = Field(11) + Field(12); // utime, stime
                }
                else if (command == "postgres")
                {
                    // With cutime and cstime: the postmaster's reaped backends (a connection that closed during the run).
                    postgres += Field(11) + Field(12) + Field(13) + Field(14);
                }
            }
            catch (IOException)
            {
                // the process ended meanwhile
            }
        }
        var total = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        var busy = total.Sum() - total[3] - total[4]; // all but idle and iowait
        return new Sample(service, postgres, busy / Tick);
    }

    public static PerRequest Per(Sample before, Sample after, long requests)
    {
        var service = after.Service - before.Service;
        var postgres = after.Postgres - before.Postgres;
        var other = Math.Max(0, after.Machine - before.Machine - service - postgres);
        double Ms(double seconds) => requests == 0 ? double.NaN : seconds * 1000 / requests;
        return new PerRequest(Ms(service), Ms(postgres), Ms(other));
    }
}

// wrk with a Lua scenario (bench/wrk) against the service on 127.0.0.1.
internal static partial class Wrk
{
    public static async Task<Measurement> RunAsync(string scriptDirectory, string provider, string scenario, string script, string url,
        int connections, int seconds, IReadOnlyDictionary<string, string> environment, string logDirectory, int? servicePid = null)
    {
        var threads = Math.Min(connections, 2);
        var info = new ProcessStartInfo("wrk")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-t", $"{threads}", "-c", $"{connections}", "-d", $"{seconds}s", "--timeout", "10s", "-s", Path.Combine(scriptDirectory, script), url })
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        info.Environment["BENCH_THREADS"] = $"{threads}";
        var before = servicePid is { } id ? Cpu.Take(id) : null;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("wrk did not start; install it (apt-get install wrk).");
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var after = servicePid is { } pid ? Cpu.Take(pid) : null;
        await File.AppendAllTextAsync(Path.Combine(logDirectory, "wrk.log"), $"== {provider} {scenario} c{connections} {seconds}s\n{output}{error}\n");
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("BENCH ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"wrk printed no result for {scenario}: {output}{error}");
        using var json = JsonDocument.Parse(line["BENCH ".Length..]);
        var r = json.RootElement;
        long Get(string name) => r.GetProperty(name).GetInt64();
        var failed = Get("non2xx") + Get("connect_errors") + Get("read_errors") + Get("write_errors") + Get("timeouts");
        return new Measurement(provider, scenario, connections, Get("requests") / (Get("duration_us") / 1e6),
            Get("p50_us") / 1000.0, Get("p90_us") / 1000.0, Get("p99_us") / 1000.0, r.GetProperty("mean_us").GetDouble() / 1000.0,
            Get("requests"), failed, "wrk")
        {
            Cost = before is null || after is null ? null : Cpu.Per(before, after, Get("requests")),
            Max = Get("max_us") / 1000.0,
        };
    }
}

// pgbench with a custom script (bench/pgbench) against the same database the service used.
internal static partial class PgBench
{
    public static async Task<Measurement> RunAsync(string script, string scenario, int port, string database, int connections, int seconds,
        IReadOnlyDictionary<string, string> variables)
    {
        var info = new ProcessStartInfo(Binary())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var args = new List<string> { "-h", "127.0.0.1", "-p", $"{port}", "-U", "postgres", "-n", "-M", "prepared",
            "-c", $"{connections}", "-j", $"{Math.Min(connections, 2)}", "-T", $"{seconds}", "-f", script };
        foreach (var (key, value) in variables)
        {
            args.AddRange(["-D", $"{key}={value}"]);
        }
        args.Add(database);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        var before = Cpu.Take(0);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("pgbench did not start.");
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var after = Cpu.Take(0);
        var tps = Tps().Match(output);
        var processed = Processed().Match(output);
        if (process.ExitCode != 0 || !tps.Success || !processed.Success)
        {
            throw new InvalidOperationException($"pgbench {scenario} failed ({process.ExitCode}): {output}{error}");
        }
        var failedMatch = FailedTransactions().Match(output);
        var latency = Latency().Match(output);
        var mean = latency.Success ? double.Parse(latency.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
        return new Measurement("Postgres", scenario, connections, double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture),
            double.NaN, double.NaN, double.NaN, mean, long.Parse(processed.Groups[1].Value, CultureInfo.InvariantCulture),
            failedMatch.Success ? long.Parse(failedMatch.Groups[1].Value, CultureInfo.InvariantCulture) : 0, "pgbench")
        {
            Cost = Cpu.Per(before, after, long.Parse(processed.Groups[1].Value, CultureInfo.InvariantCulture)),
        };
    }

    // Debian puts pgbench on PATH through a wrapper; the server's own binary folder has it too.
    private static string Binary() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "pgbench")).Where(File.Exists).Order().LastOrDefault() ?? "pgbench"
            : "pgbench";

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex Tps();

    [GeneratedRegex(@"number of transactions actually processed: (\d+)")]
    private static partial Regex Processed();

    [GeneratedRegex(@"number of failed transactions: (\d+)")]
    private static partial Regex FailedTransactions();

    [GeneratedRegex(@"latency average = ([0-9.]+) ms")]
    private static partial Regex Latency();
}
