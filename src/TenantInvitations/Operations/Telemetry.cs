using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace TenantInvitations.Operations;

// Who may read /metrics besides loopback: the networks a Prometheus server scrapes from.
internal sealed class MetricsOptions
{
    public string[] AllowedNetworks { get; set; } = [];
}

// OpenTelemetry as eShop's ServiceDefaults set it up: ASP.NET Core, HttpClient, runtime, Npgsql and MailKit instrumentation,
// the service's own meter (AppMetrics, QueueGauges), Prometheus text on /metrics, and OTLP export of traces, metrics and
// logs only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
internal static class Telemetry
{
    public const string DefaultServiceName = "tenant-invitations";
    public const string MetricsPath = "/metrics";

    public static void AddTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddSettings<MetricsOptions>("Metrics")
            .Validate(o => o.AllowedNetworks.All(n => IPNetwork.TryParse(n, out _)), "Metrics:AllowedNetworks must be networks such as 10.0.0.0/8.")
            .ValidateOnStart();
        builder.Services.AddSingleton<QueueGauges>();
        MailKit.Telemetry.SmtpClient.Configure();

        var exporting = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } named ? named : DefaultServiceName;
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(AppMetrics.MeterName, MailKit.Telemetry.SmtpClient.MeterName, "Npgsql")
                .AddPrometheusExporter());
        // Spans are made only when they go somewhere. Without an exporter, ASP.NET Core still starts an activity per request
        // from an incoming traceparent, so X-Trace-Id and the audit's traceId continue the caller's trace either way.
        if (exporting)
        {
            telemetry
                .WithTracing(tracing => tracing
                    .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments(MetricsPath))
                    .AddHttpClientInstrumentation()
                    .AddNpgsql()
                    .AddSource(MailKit.Telemetry.SmtpClient.ActivitySourceName))
                .WithLogging()
                .UseOtlpExporter();
        }
    }

    // First in the pipeline, before forwarded headers can change the remote address and before host filtering: /metrics
    // answers the connection's own address when it is loopback or in Metrics:AllowedNetworks, and is a plain 404 to others.
    public static void UseMetricsEndpoint(this WebApplication app)
    {
        var allowed = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value.AllowedNetworks.Select(n => IPNetwork.Parse(n)).ToArray();
        app.Services.GetRequiredService<QueueGauges>();
        app.Use((http, next) =>
        {
            if (http.Request.Path.Equals(MetricsPath, StringComparison.OrdinalIgnoreCase) && !Allows(http.Connection.RemoteIpAddress, allowed))
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            return next(http);
        });
        app.UseOpenTelemetryPrometheusScrapingEndpoint(http => http.Request.Path.Equals(MetricsPath, StringComparison.OrdinalIgnoreCase));
    }

    private static bool Allows(IPAddress? remote, IPNetwork[] allowed)
    {
        if (remote is null)
        {
            return false;
        }
        if (remote.IsIPv4MappedToIPv6)
        {
            remote = remote.MapToIPv4();
        }
        return IPAddress.IsLoopback(remote) || allowed.Any(network => network.Contains(remote));
    }

    // A request's trace id: the caller's own when it sent a traceparent. X-Trace-Id, the audit and the events all use this.
    public static string TraceIdOf(HttpContext http) => Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier;

    // Every response names its trace.
    public static void UseTraceIdHeader(this WebApplication app) => app.Use((http, next) =>
    {
        http.Response.Headers["X-Trace-Id"] = TraceIdOf(http);
        return next(http);
    });
}
