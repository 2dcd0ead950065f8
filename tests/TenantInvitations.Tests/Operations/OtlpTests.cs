using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace TenantInvitations.Tests;

// With OTEL_EXPORTER_OTLP_ENDPOINT set, the service process exports traces, metrics and logs over OTLP (HTTP/protobuf here)
// to a receiver on loopback. A request sent with a traceparent is one trace: its server span, its database commands on
// PostgreSQL, the SMTP send of its email and the webhook call of its event, all under the caller's trace id.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class OtlpTests
{
    [Fact]
    public async Task Traces_metrics_and_logs_go_to_the_collector_and_continue_the_callers_trace()
    {
        var folder = Directory.CreateTempSubdirectory("ti-otlp-").FullName;
        using var postgres = PostgresCluster.Start();
        await using var smtp = new SmtpSink();
        await using var hooks = await WebhookReceiver.StartAsync();
        var exports = new ConcurrentQueue<(string Path, byte[] Body)>();
        await using var collector = await StartCollectorAsync(exports);
        using var service = ServiceProcess.Start(folder,
        [
            "--environment", "Production", "--App:PublicBaseUrl=https://invitations.example.test", $"--Auth:SigningKey={TestApp.SigningKey}",
            "--Storage:Provider=Postgres", $"--ConnectionStrings:Invitations={postgres.ConnectionString}",
            "--Email:Smtp:Host=127.0.0.1", $"--Email:Smtp:Port={smtp.Port}", "--Email:Smtp:UseTls=false",
            "--Webhooks:AllowHttp=true", "--Webhooks:AllowPrivateNetworks=true",
            $"--OTEL_EXPORTER_OTLP_ENDPOINT={collector.Urls.Single()}", "--OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
            "--OTEL_SERVICE_NAME=invitations-under-test", "--OTEL_BSP_SCHEDULE_DELAY=200", "--OTEL_METRIC_EXPORT_INTERVAL=500",
        ]);
        await service.WaitUntilReadyAsync();
        using var client = new HttpClient { BaseAddress = service.BaseAddress };
        var platform = TestApp.Token("platform-root", "root@platform.test", platformAdmin: true);

        var webhook = await SendAsync(client, HttpMethod.Post, "/webhooks", platform, new { url = hooks.Url, types = new[] { "tenant.created" } }, null);
        webhook.AssertSuccess(HttpStatusCode.Created);
        var traceId = ActivityTraceId.CreateRandom();
        var created = await SendAsync(client, HttpMethod.Post, "/tenant", platform, new { name = "Traced", ownerEmail = "owner@otlp.test" }, traceId);
        created.AssertSuccess(HttpStatusCode.Created);
        Assert.Equal(traceId.ToHexString(), created.Headers.GetValues("X-Trace-Id").Single());
        await smtp.WaitForAsync("owner@otlp.test");
        await hooks.WaitForCountAsync(1);

        // The trace id travels as its 16 bytes in the protobuf; names and attributes as UTF-8 strings. The request's server
        // span carries the caller's trace id; the email and the webhook call are made later, in their own traces.
        var id = Convert.FromHexString(traceId.ToHexString());
        bool Has(string path, params string[] texts) => exports.Any(e => e.Path == path && e.Body.AsSpan().IndexOf(id) >= 0
            && texts.All(t => e.Body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(t)) >= 0));
        await Eventually.ValueAsync(() => Task.FromResult(exports.Count), _ =>
            Has("/v1/traces", "invitations-under-test", "POST /tenant")
            && exports.Any(e => e.Path == "/v1/traces" && Contains(e.Body, "postgresql") && Contains(e.Body, "INSERT INTO"))
            && exports.Any(e => e.Path == "/v1/traces" && Contains(e.Body, "MailKit.Net.SmtpClient"))
            && exports.Any(e => e.Path == "/v1/traces" && Contains(e.Body, "System.Net.Http") && Contains(e.Body, "/hooks"))
            && exports.Any(e => e.Path == "/v1/metrics" && Contains(e.Body, "invitation.events"))
            && exports.Any(e => e.Path == "/v1/logs" && Contains(e.Body, "invitations-under-test")), seconds: 60);
        Directory.Delete(folder, recursive: true);
    }

    private static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;

    // A bare OTLP/HTTP endpoint on loopback: it keeps what it is sent and answers 200, as a collector does.
    private static async Task<WebApplication> StartCollectorAsync(ConcurrentQueue<(string Path, byte[] Body)> exports)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var collector = builder.Build();
        collector.Run(async http =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            exports.Enqueue((http.Request.Path.Value ?? "", body.ToArray()));
            http.Response.StatusCode = StatusCodes.Status200OK;
        });
        await collector.StartAsync();
        return collector;
    }

    private static async Task<ApiResponse> SendAsync(HttpClient client, HttpMethod method, string path, string token, object body, ActivityTraceId? trace)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (trace is { } id)
        {
            request.Headers.Add("traceparent", $"00-{id.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        }
        using var response = await client.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }
}
