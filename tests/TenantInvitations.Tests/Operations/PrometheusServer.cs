using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace TenantInvitations.Tests;

// Debian's Prometheus (scripts/test.sh installs it), on a free loopback port with its own data directory, scraping the
// given targets every second and loading the given rule files. Queried through its HTTP API, as a dashboard would.
public sealed class PrometheusServer : IDisposable
{
    public const string Binary = "/usr/bin/prometheus";
    public const string Promtool = "/usr/bin/promtool";

    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly HttpClient client;

    private PrometheusServer(Process process, int port)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
    }

    public string Output { get { lock (output) { return output.ToString(); } } }

    public static PrometheusServer Start(string folder, Uri target, params string[] ruleFiles)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: scripts/test.sh installs Debian's prometheus package.");
        var port = ServiceProcess.FreePort();
        var config = Path.Combine(folder, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: [{string.Join(", ", ruleFiles.Select(f => $"'{f}'"))}]
            scrape_configs:
              - job_name: tenant-invitations
                static_configs:
                  - targets: ['{target.Authority}']
            """);
        var info = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(folder, "prometheus-data")}",
            $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        })
        {
            info.ArgumentList.Add(arg);
        }
        return new PrometheusServer(Process.Start(info)!, port);
    }

    // The value of an instant query's single series, or null while it has none.
    public async Task<double?> QueryAsync(string query)
    {
        try
        {
            using var response = await client.GetAsync($"api/v1/query?query={Uri.EscapeDataString(query)}");
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var result = json.RootElement.GetProperty("data").GetProperty("result");
            Assert.True(result.GetArrayLength() <= 1, $"{query} matched {result.GetArrayLength()} series: {result}");
            return result.GetArrayLength() == 0 ? null
                : double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException)
        {
            return null; // not listening yet
        }
    }

    // Waits until the query's one series has the expected value.
    public async Task AssertEventuallyAsync(string query, double expected, int seconds = 30)
    {
        double? last = null;
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(process.HasExited, $"Prometheus exited. Output:\n{Output}");
            if ((last = await QueryAsync(query)) == expected)
            {
                return;
            }
            await Task.Delay(250);
        }
        Assert.Fail($"{query} was {last?.ToString(CultureInfo.InvariantCulture) ?? "absent"} after {seconds} s, not {expected}. Prometheus:\n{Output}");
    }

    public async Task<JsonElement> RulesAsync()
    {
        using var response = await client.GetAsync("api/v1/rules");
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data").Clone();
    }

    public void Dispose()
    {
        client.Dispose();
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        process.Dispose();
    }
}
