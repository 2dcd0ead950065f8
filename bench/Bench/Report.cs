using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace TenantInvitations.Bench;

// The figures as lines a script can read, docs/benchmarks.md (or the quick run's copy) and its chart.
internal sealed class Report(BenchOptions options, BenchRun run, TimeSpan took)
{
    private sealed record Target(string Name, string Figure, double Value, string Unit, bool AtLeast, double Goal)
    {
        public bool Met => AtLeast ? Value >= Goal : Value <= Goal;

        // How far from the goal, as a share of it: positive is headroom, negative is the miss.
        public double Margin => AtLeast ? Value / Goal - 1 : 1 - Value / Goal;
    }

    private Measurement? Find(string provider, string scenario, int connections) =>
        run.Measurements.FirstOrDefault(m => m.Provider == provider && m.Scenario == scenario && m.Connections == connections);

    private double Throughput(string provider, string scenario) => Find(provider, scenario, 32)?.Throughput ?? double.NaN;

    private double Ratio(string scenario, string baseline, string provider = "Postgres") => Throughput(provider, scenario) / Throughput(provider, baseline);

    // The issue's table (docs/benchmarks.md): each request against its floor, the one statement that does what it must
    // (bench/pgbench/*_floor.sql), and against the better-auth peer on the same database.
    private List<Target> Targets() =>
    [
        new("resend_vs_floor", "PostgreSQL resend throughput ÷ its one-statement floor in pgbench (32 connections)", Ratio("resend", "floor_resend"), "", true, 0.30),
        new("create_vs_floor", "PostgreSQL create throughput ÷ its one-statement floor in pgbench (32 connections)", Ratio("create", "floor_create"), "", true, 0.30),
        new("get_vs_floor", "PostgreSQL get by id throughput ÷ its one-statement floor in pgbench (32 connections)", Ratio("get", "floor_get"), "", true, 0.25),
        new("writes_vs_better_auth", "the lower of resend and create throughput ÷ better-auth's, PostgreSQL (32 connections)",
            Math.Min(Ratio("resend", "peer_resend"), Ratio("create", "peer_create")), "", true, 8),
        new("reads_vs_better_auth", "the lower of get and list throughput ÷ better-auth's, PostgreSQL (32 connections)",
            Math.Min(Ratio("get", "peer_get"), Ratio("list_1k", "peer_list_1k")), "", true, 15),
        new("list_1m_vs_1k_p50", "list p50 with 1,000,000 invitations ÷ p50 with 1,000, PostgreSQL (1 connection)",
            (Find("Postgres", "list_1m", 1)?.P50 ?? double.NaN) / (Find("Postgres", "list_1k", 1)?.P50 ?? double.NaN), "", false, 1.2),
        new("sqlite_resend_p99_c32", "SQLite resend p99 at 32 connections", Find("Sqlite", "resend", 32)?.P99 ?? double.NaN, "ms", false, 50),
        new("outbox_drain", "outbox drain to the loopback SMTP server, PostgreSQL",
            run.Drains.FirstOrDefault(d => d.Provider == "Postgres")?.PerSecond ?? double.NaN, "emails/s", true, 1_000),
        new("webhook_drain", "webhook deliveries to a loopback receiver, PostgreSQL",
            run.WebhookDrains.FirstOrDefault(d => d.Provider == "Postgres")?.PerSecond ?? double.NaN, "deliveries/s", true, 1_000),
        new("bulk_1000_p50", "one 1,000-row bulk request, PostgreSQL (p50, one at a time)", BenchRun.Median(run.BulkMilliseconds), "ms", false, 1_000),
        new("import_rows_per_s", "a CSV import from its 202 to Completed, PostgreSQL (100,000 rows; 20,000 in the quick run)", run.ImportRowsPerSecond, "rows/s", true, 2_000),
        new("peak_rss", "peak RSS of the service under load (the largest of every service process)",
            run.PeakRss.Count == 0 ? double.NaN : run.PeakRss.Values.Max(), "MB", false, 250),
        new("checks_failed", "checks under load that failed (below)", run.Checks.Count(c => !c.Passed) + run.SqlDifferences.Count, "checks", false, 0),
    ];

    // `ratio NAME VALUE` and `figure NAME VALUE UNIT`, the targets first.
    public IEnumerable<string> Lines()
    {
        foreach (var target in Targets())
        {
            yield return target.Unit.Length == 0 ? $"ratio {target.Name} {target.Value:0.000}" : $"figure {target.Name} {target.Value:0.##} {target.Unit}";
        }
        yield return $"ratio list_vs_floor {Ratio("list_1k", "floor_list"):0.000}";
        yield return $"ratio accept_vs_floor {Ratio("accept", "floor_accept"):0.000}";
        yield return $"ratio resend_pg_vs_pgbench {Ratio("resend", "pgbench_resend"):0.000}";
        yield return $"ratio create_pg_vs_pgbench {Ratio("create", "pgbench_create"):0.000}";
        yield return $"ratio get_vs_empty {Ratio("get", "empty"):0.000}";
        yield return $"ratio sqlite_get_vs_empty {Throughput("Sqlite", "get") / Throughput("Sqlite", "empty"):0.000}";
        yield return $"ratio sqlite_list_1m_vs_1k_p50 {(Find("Sqlite", "list_1m", 1)?.P50 ?? double.NaN) / (Find("Sqlite", "list_1k", 1)?.P50 ?? double.NaN):0.000}";
        yield return $"figure pg_resend_p99_c32 {Find("Postgres", "resend", 32)?.P99:0.##} ms";
        foreach (var drain in run.Drains.Where(d => d.Provider != "Postgres"))
        {
            yield return $"figure {drain.Provider.ToLowerInvariant()}_outbox_drain {drain.PerSecond:0} emails/s";
        }
        foreach (var drain in run.WebhookDrains.Where(d => d.Provider != "Postgres"))
        {
            yield return $"figure {drain.Provider.ToLowerInvariant()}_webhook_drain {drain.PerSecond:0} deliveries/s";
        }
        if (run.BulkDrain is { } bulkDrain)
        {
            yield return $"figure pg_bulk_import_email_drain {bulkDrain.PerSecond:0} emails/s";
        }
        foreach (var latency in run.Latencies)
        {
            yield return $"figure {Short(latency.Provider)}_email_latency_p50 {latency.P50:0.#} ms";
            yield return $"figure {Short(latency.Provider)}_email_latency_p99 {latency.P99:0.#} ms";
        }
        foreach (var m in run.Measurements)
        {
            var name = $"{Short(m.Provider)}_{m.Scenario}_c{m.Connections}";
            yield return $"figure {name}_throughput {m.Throughput:0} req/s";
            if (!double.IsNaN(m.P50))
            {
                yield return $"figure {name}_p50 {m.P50:0.###} ms";
                yield return $"figure {name}_p99 {m.P99:0.###} ms";
            }
        }
    }

    private static string Short(string provider) => provider == "Postgres" ? "pg" : "sqlite";

    public async Task WriteAsync()
    {
        Directory.CreateDirectory(options.Output);
        var chart = Path.Combine(options.Output, "benchmarks.png");
        await DrawAsync(chart);
        await File.WriteAllTextAsync(Path.Combine(options.Output, "benchmarks.md"), await MarkdownAsync());
    }

    private async Task<string> MarkdownAsync()
    {
        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Written by `bench/run.sh{(options.Quick ? " --quick" : "")}` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, commit `{await CommandAsync("git", "rev-parse", "--short", "HEAD")}`, in {took.TotalMinutes:0.0} minutes.");
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Cpu()}, {Environment.ProcessorCount} cores, {MemoryGb():0} GiB; PostgreSQL {run.PostgresVersion}; .NET {Environment.Version}; {await CommandAsync("wrk", "-v")}.");
        md.AppendLine(CultureInfo.InvariantCulture, $"Each figure is one run of {options.Seconds} s after a {options.Warmup} s warm-up; the service and its load generator share the machine's {Environment.ProcessorCount} cores.");
        md.AppendLine("How it is measured, and what was tuned: [the method](#method) below.");
        md.AppendLine();
        md.AppendLine("![Throughput and p99 latency at 32 connections](benchmarks.png)");
        md.AppendLine();
        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| figure | target | reached | |");
        md.AppendLine("|---|---|---|---|");
        foreach (var t in Targets())
        {
            var goal = $"{(t.AtLeast ? "≥" : "≤")} {t.Goal:#,0.##} {t.Unit}".Trim();
            var verdict = double.IsNaN(t.Value) ? "not measured yet" : t.Met ? (t.Goal == 0 ? "met" : $"met, {t.Margin:+0%;-0%} headroom")
                : t.Goal == 0 ? "**missed**" : $"**missed by {-t.Margin:0%}**";
            md.AppendLine(CultureInfo.InvariantCulture, $"| {t.Figure} (`{t.Name}`) | {goal} | {t.Value:#,0.###} {t.Unit} | {verdict} |");
        }
        md.AppendLine();
        md.AppendLine("## Every run");
        md.AppendLine();
        md.AppendLine("Throughput in requests (or pgbench transactions) per second; latencies in milliseconds as wrk reports them.");
        md.AppendLine("`floor_*` rows run the one statement that does what that request must (bench/pgbench/*_floor.sql); `pgbench_*` rows run");
        md.AppendLine("the service's own statements for that endpoint (bench/pgbench/*.sql), a diagnostic; `empty` is the HTTP ceiling.");
        md.AppendLine();
        md.AppendLine("At 32 connections, create and resend are the request alone: the sink holds delivery while they run (the emails they");
        md.AppendLine("queue are the backlog timed under Email), as pgbench runs the request's statements alone. Everywhere else the dispatcher");
        md.AppendLine("sends as requests come. CPU columns: milliseconds of CPU per request in the service process, in PostgreSQL's processes,");
        md.AppendLine("and in everything else (mostly the load generator), read from /proc around the run.");
        md.AppendLine();
        md.AppendLine("| provider | scenario | connections | throughput | p50 | p90 | p99 | mean | requests | failed | CPU service | CPU PostgreSQL | CPU other |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var m in run.Measurements)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {m.Provider} | {m.Scenario} | {m.Connections} | {m.Throughput:#,0} | {Ms(m.P50)} | {Ms(m.P90)} | {Ms(m.P99)} | {Ms(m.Mean)} | {m.Requests:#,0} | {m.Failed} | {Cost(m.Cost?.Service)} | {Cost(m.Cost?.Postgres)} | {Cost(m.Cost?.Other)} |");
        }
        md.AppendLine();
        md.AppendLine("## The peer: better-auth 1.7.25");
        md.AppendLine();
        md.AppendLine("better-auth's organization plugin (bench/peers/better-auth: one Node process, its defaults, its rate limiter off), run");
        md.AppendLine("right after the service on the same PostgreSQL server (its own database) and on its own SQLite file, seeded to the");
        md.AppendLine("same shape (as many organizations, the admin in each, a resend pool, an organization of 1,000 invitations) and");
        md.AppendLine("loaded by the same wrk settings. Throughput in requests per second; the ratio is the service's over the peer's.");
        md.AppendLine();
        md.AppendLine("| provider | request | connections | the service | better-auth | ratio | p99 service / better-auth (ms) |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var provider in new[] { "Postgres", "Sqlite" })
        {
            foreach (var connections in new[] { 32, 1 })
            {
                foreach (var scenario in new[] { "get", "list_1k", "resend", "create" })
                {
                    var (mine, theirs) = (Find(provider, scenario, connections), Find(provider, $"peer_{scenario}", connections));
                    if (mine is not null && theirs is not null)
                    {
                        md.AppendLine(CultureInfo.InvariantCulture,
                            $"| {provider} | {scenario} | {connections} | {mine.Throughput:#,0} | {theirs.Throughput:#,0} | {mine.Throughput / theirs.Throughput:0.0} | {Ms(mine.P99)} / {Ms(theirs.P99)} |");
                    }
                }
            }
        }
        md.AppendLine();
        md.AppendLine("Where the peer does less than the service for the same request:");
        md.AppendLine();
        foreach (var line in Peer.DoesLess)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {line}");
        }
        md.AppendLine();
        md.AppendLine("## Email");
        md.AppendLine();
        md.AppendLine("| provider | drain rate (emails/s) | backlog | CPU per email: service / PostgreSQL / other (ms) | latency from queued to SMTP accept, p50 / p99 (ms) | emails timed |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var drain in run.Drains)
        {
            var latency = run.Latencies.FirstOrDefault(l => l.Provider == drain.Provider);
            md.AppendLine(CultureInfo.InvariantCulture, $"| {drain.Provider} | {drain.PerSecond:#,0} | {drain.Emails:#,0} | {Cost(drain.Cost.Service)} / {Cost(drain.Cost.Postgres)} / {Cost(drain.Cost.Other)} | {Ms(latency?.P50 ?? double.NaN)} / {Ms(latency?.P99 ?? double.NaN)} | {latency?.Emails:#,0} |");
        }
        md.AppendLine();
        md.AppendLine("The drain is the backlog the 32-connection create runs queued, released at once; the latency is taken while the");
        md.AppendLine("1-connection create run queues emails one by one and the dispatcher sends them as they come (the sink in the");
        md.AppendLine("benchmark process is the other side; other includes it).");
        md.AppendLine();
        md.AppendLine("## Webhooks");
        md.AppendLine();
        md.AppendLine("| provider | drain rate (deliveries/s) | backlog | CPU per delivery: service / PostgreSQL / other (ms) |");
        md.AppendLine("|---|---:|---:|---:|");
        foreach (var drain in run.WebhookDrains)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {drain.Provider} | {drain.PerSecond:#,0} | {drain.Emails:#,0} | {Cost(drain.Cost.Service)} / {Cost(drain.Cost.Postgres)} / {Cost(drain.Cost.Other)} |");
        }
        md.AppendLine();
        md.AppendLine("Eight platform endpoints subscribed to `invitation.created` point at a receiver in the benchmark process (Kestrel on");
        md.AppendLine("loopback, 204 to every delivery); it holds its answers while the 1-connection create run makes events, then lets go,");
        md.AppendLine("and the backlog (every such event, to each endpoint) is timed until its last delivery arrives. A node sends at most 4");
        md.AppendLine("deliveries at a time to one endpoint, hence eight; the per-endpoint pace is raised out of the way");
        md.AppendLine("(`Webhooks:MaxPerSecondPerEndpoint=10000`; the default, 50 a second, is about the receiver, not the service).");
        md.AppendLine();
        md.AppendLine("## Memory");
        md.AppendLine();
        md.AppendLine("| service process | peak RSS (MB) |");
        md.AppendLine("|---|---:|");
        foreach (var (process, mb) in run.PeakRss)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {process} | {mb:0} |");
        }
        foreach (var (provider, mb) in run.PeerRss)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| better-auth on {provider} (the peer, for comparison) | {mb:0} |");
        }
        md.AppendLine();
        md.AppendLine("## Checks under load");
        md.AppendLine();
        md.AppendLine(run.SqlDifferences.Count == 0
            ? "The pgbench scripts send the same statements as the service: captured from its command log in this run and compared (see the method)."
            : $"**The pgbench scripts differ from the SQL captured in this run:**\n\n```\n{string.Join("\n", run.SqlDifferences)}\n```");
        md.AppendLine();
        md.AppendLine("| provider | check | result | detail |");
        md.AppendLine("|---|---|---|---|");
        foreach (var check in run.Checks)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {check.Provider} | {check.Name} | {(check.Passed ? "passed" : "**FAILED**")} | {check.Detail} |");
        }
        md.AppendLine();
        md.Append(await File.ReadAllTextAsync(Path.Combine(options.Scripts, "..", "method.md")));
        md.Append(await File.ReadAllTextAsync(Path.Combine(options.Scripts, "..", "analysis.md")));
        return md.ToString();
    }

    private static string Cost(double? value) => value is { } v && !double.IsNaN(v) ? v.ToString("0.00", CultureInfo.InvariantCulture) : "";

    private static string Ms(double value) => double.IsNaN(value) ? "" : value.ToString(value < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);

    // gnuplot (Debian's gnuplot-nox): throughput and p99 at 32 connections, by scenario and provider.
    private async Task DrawAsync(string png)
    {
        var scenarios = new[] { "empty", "get", "floor_get", "list_1k", "floor_list", "list_1m", "list_1m_deep", "create", "floor_create", "resend", "floor_resend", "accept", "floor_accept" };
        var data = Path.Combine(options.Work, "chart.dat");
        var rows = new StringBuilder("scenario\tPostgreSQL\tSQLite\tPostgreSQL_p99\tSQLite_p99\n");
        foreach (var scenario in scenarios)
        {
            var pg = Find("Postgres", scenario, 32);
            var sqlite = Find("Sqlite", scenario, 32);
            rows.AppendLine(CultureInfo.InvariantCulture,
                $"{scenario}\t{Value(pg?.Throughput)}\t{Value(sqlite?.Throughput)}\t{Value(pg?.P99)}\t{Value(sqlite?.P99)}");
        }
        await File.WriteAllTextAsync(data, rows.ToString());
        var script = $"""
            set terminal pngcairo size 1200,800 font 'DejaVu Sans,10' noenhanced
            set output '{png}'
            set datafile separator '\t'
            set datafile missing '-'
            set style data histograms
            set style histogram clustered gap 1
            set style fill solid 0.8 border -1
            set key top right
            set grid ytics
            set xtics rotate by -30
            set multiplot layout 2,1 title 'TenantInvitations, 32 connections ({(options.Quick ? "quick run" : "full run")}; floor rows: PostgreSQL running the one statement each request needs)'
            set ylabel 'requests per second (log scale)'
            set logscale y
            plot '{data}' using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3)
            set ylabel 'p99 latency (ms, log scale)'
            plot '{data}' using 4:xtic(1) title 'PostgreSQL p99', '' using 5 title 'SQLite p99'
            unset multiplot
            """;
        var plot = Path.Combine(options.Work, "chart.gp");
        await File.WriteAllTextAsync(plot, script);
        await CommandAsync("gnuplot", plot);
    }

    private static string Value(double? value) => value is { } v && !double.IsNaN(v) ? v.ToString("0.###", CultureInfo.InvariantCulture) : "-";

    private static string Cpu() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";

    private static double MemoryGb() =>
        double.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024 / 1024;

    private static async Task<string> CommandAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && file != "wrk")
        {
            throw new InvalidOperationException($"{file} failed: {error}");
        }
        return (output + error).Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "";
    }
}
