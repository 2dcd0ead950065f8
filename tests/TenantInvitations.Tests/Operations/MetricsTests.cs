using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace TenantInvitations.Tests;

// /metrics scraped by a real Prometheus after real traffic: an invitation created and its email delivered to an SMTP
// server on loopback, a resend refused by the cooldown; each counted once. The alert rules are loaded by the same
// Prometheus, and checked and unit-tested by promtool.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class MetricsTests
{
    private static readonly string Deploy = Path.Combine(Repository.Root, "deploy", "prometheus");

    [Fact]
    public async Task Prometheus_scrapes_the_series_of_real_traffic_each_counted_once()
    {
        var folder = Directory.CreateTempSubdirectory("ti-metrics-").FullName;
        await using var smtp = new SmtpSink();
        using var database = TestDatabase.Create(folder);
        using var service = ServiceProcess.Start(folder,
        [
            "--environment", "Production", "--App:PublicBaseUrl=https://invitations.example.test", $"--Auth:SigningKey={TestApp.SigningKey}",
            "--Email:Smtp:Host=127.0.0.1", $"--Email:Smtp:Port={smtp.Port}", "--Email:Smtp:UseTls=false", "--Email:PollInterval=00:00:00.200",
            .. database.Arguments,
        ]);
        await service.WaitUntilReadyAsync();
        using var prometheus = PrometheusServer.Start(folder, service.BaseAddress, Path.Combine(Deploy, "alerts.yml"));
        await prometheus.AssertEventuallyAsync("up{job=\"tenant-invitations\"}", 1);

        using var client = new HttpClient { BaseAddress = service.BaseAddress };
        var platform = TestApp.Token("platform-root", "root@platform.test", platformAdmin: true);
        var tenant = await SendAsync(client, HttpMethod.Post, "/tenant", platform, new { name = "Metrics", ownerEmail = "owner@metrics.test" });
        var tenantId = tenant.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        var created = await SendAsync(client, HttpMethod.Post, $"/tenant/{tenantId}/admin/user/invitation", platform, new { email = "new@metrics.test" });
        var invitationId = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
        await smtp.WaitForAsync("new@metrics.test");
        (await SendAsync(client, HttpMethod.Put, $"/tenant/{tenantId}/admin/user/invitation/resend?id={invitationId}", platform))
            .AssertError(HttpStatusCode.TooManyRequests, "RateLimited");

        // The Owner's invitation (made with the tenant) and the new one: two created, two emails accepted by the SMTP server.
        await prometheus.AssertEventuallyAsync("sum(invitation_events_total{type=\"invitation.created\"})", 2);
        await prometheus.AssertEventuallyAsync("sum(invitation_events_total{type=\"tenant.created\"})", 1);
        await prometheus.AssertEventuallyAsync("sum(email_deliveries_total{outcome=\"sent\"})", 2);
        await prometheus.AssertEventuallyAsync("sum(invitation_events_total{type=\"invitation.delivered\"})", 2);
        await prometheus.AssertEventuallyAsync("sum(email_delivery_latency_seconds_count)", 2);
        await prometheus.AssertEventuallyAsync("sum(invitation_resend_refusals_total{reason=\"cooldown\"})", 1);
        await prometheus.AssertEventuallyAsync("sum(invitation_resend_refusals_total)", 1);
        await prometheus.AssertEventuallyAsync("outbox_queued", 0);
        await prometheus.AssertEventuallyAsync("outbox_oldest_age_seconds", 0);
        await prometheus.AssertEventuallyAsync("webhook_queued", 0);
        await prometheus.AssertEventuallyAsync(
            "sum(http_server_request_duration_seconds_count{http_route=\"/tenant/{tenantId}/admin/user/invitation/resend\",http_response_status_code=\"429\"})", 1);
        Assert.Equal(2, smtp.Messages.Length);

        // No label names a tenant, an address or a token.
        var text = await client.GetStringAsync("/metrics");
        Assert.DoesNotContain("metrics.test", text);
        Assert.DoesNotContain($"tenant/{tenantId}/", text);
        Assert.DoesNotContain(platform, text);

        // The alert rules load and are evaluated, quiet on a healthy service.
        var groups = (await prometheus.RulesAsync()).GetProperty("groups");
        var rules = groups.EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
        Assert.Equal(5, rules.Count);
        Assert.All(rules, r => Assert.Equal("inactive", r.GetProperty("state").GetString()));
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public async Task The_alert_rules_pass_promtool_check_and_their_unit_tests()
    {
        var check = await RunAsync(PrometheusServer.Promtool, Deploy, "check", "rules", "alerts.yml");
        Assert.True(check.ExitCode == 0, check.Output);
        Assert.Contains("SUCCESS: 5 rules found", check.Output);
        var test = await RunAsync(PrometheusServer.Promtool, Deploy, "test", "rules", "alerts.test.yml");
        Assert.True(test.ExitCode == 0, test.Output);
        Assert.Contains("SUCCESS", test.Output);
    }

    [Fact]
    public async Task Only_loopback_and_the_allowed_networks_may_read_metrics_whatever_the_forwarded_address()
    {
        // In process there is no connection address, as for any caller not on loopback: a plain 404.
        await using (var app = new MetricsApp(remote: null))
        {
            var response = await app.CreateClient().GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("", await response.Content.ReadAsStringAsync());
        }
        await using (var app = new MetricsApp(IPAddress.Parse("10.1.2.3")))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await app.CreateClient().GetAsync("/metrics")).StatusCode);
        }
        await using (var app = new MetricsApp(IPAddress.Parse("10.1.2.3"), ("Metrics:AllowedNetworks:0", "10.0.0.0/8")))
        {
            var response = await app.CreateClient().GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("outbox_queued", await response.Content.ReadAsStringAsync());
        }
        // A trusted proxy's X-Forwarded-For does not open it: the connection's own address decides.
        await using (var app = new MetricsApp(IPAddress.Parse("10.1.2.3"), ("ForwardedHeaders:KnownProxies:0", "10.1.2.3")))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            request.Headers.Add("X-Forwarded-For", "127.0.0.1");
            Assert.Equal(HttpStatusCode.NotFound, (await app.CreateClient().SendAsync(request)).StatusCode);
        }
        // From loopback it answers whatever the Host header (it is exempt from AllowedHosts).
        await using (var app = new MetricsApp(IPAddress.Loopback, ("AllowedHosts", "invitations.example.test")))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            request.Headers.Host = "10.0.0.9:9100";
            Assert.Equal(HttpStatusCode.OK, (await app.CreateClient().SendAsync(request)).StatusCode);
        }
    }

    [Fact]
    public async Task Every_response_carries_the_trace_id_and_an_incoming_traceparent_is_continued()
    {
        await using var app = new MetricsApp(IPAddress.Loopback);
        var client = app.CreateClient();
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        foreach (var path in new[] { "/health/live", "/openapi/v1.json", "/tenant/1/admin/user/invitation", "/nope" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
            using var response = await client.SendAsync(request);
            Assert.Equal(traceId, Assert.Single(response.Headers.GetValues("X-Trace-Id")));

            using var fresh = await client.GetAsync(path);
            var own = Assert.Single(fresh.Headers.GetValues("X-Trace-Id"));
            Assert.Matches("^[0-9a-f]{32}$", own);
            Assert.NotEqual(traceId, own);
        }
    }

    private static async Task<ApiResponse> SendAsync(HttpClient client, HttpMethod method, string path, string token, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = System.Net.Http.Json.JsonContent.Create(body);
        }
        using var response = await client.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string directory, params string[] args)
    {
        Assert.True(File.Exists(file), $"{file} is missing: scripts/test.sh installs Debian's prometheus package.");
        var info = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }

    // The app in process, its connections coming from the given address (null: none, as TestServer gives).
    private sealed class MetricsApp(IPAddress? remote, params (string Key, string Value)[] settings) : TestApp
    {
        protected override IEnumerable<KeyValuePair<string, string>> Settings() => settings.Select(s => KeyValuePair.Create(s.Key, s.Value));

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton<IStartupFilter>(new RemoteAddress(remote)));
        }

        private sealed class RemoteAddress(IPAddress? remote) : IStartupFilter
        {
            public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
            {
                app.Use((http, following) =>
                {
                    http.Connection.RemoteIpAddress = remote;
                    return following(http);
                });
                next(app);
            };
        }
    }
}
