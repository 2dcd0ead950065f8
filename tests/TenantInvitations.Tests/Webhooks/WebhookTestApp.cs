using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using TenantInvitations.Webhooks;

namespace TenantInvitations.Tests;

// Name resolution for webhook hosts, as the test says: public DNS does not resolve on these machines. IP literals resolve to themselves.
internal sealed class TestNameResolver : IWebhookNameResolver
{
    private readonly ConcurrentDictionary<string, IPAddress[]> names = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentQueue<string> lookups = new();

    public void Set(string host, params IPAddress[] addresses) => names[host] = addresses;

    public int LookupsOf(string host) => lookups.Count(h => string.Equals(h, host, StringComparison.OrdinalIgnoreCase));

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        lookups.Enqueue(host);
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            return Task.FromResult<IPAddress[]>([literal]);
        }
        return names.TryGetValue(host, out var addresses)
            ? Task.FromResult(addresses)
            : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
    }
}

// The service with webhooks to loopback receivers allowed (as an operator's test setup would), short timings and test DNS.
public class WebhookTestApp : TestApp
{
    internal TestNameResolver Names { get; } = new();

    protected virtual bool AllowPrivateNetworks => true;

    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
    [
        new("Webhooks:AllowHttp", "true"),
        new("Webhooks:AllowPrivateNetworks", AllowPrivateNetworks ? "true" : "false"),
        new("Webhooks:PollInterval", "00:00:00.100"),
        new("Webhooks:Timeout", "00:00:02"),
        new("Webhooks:LeaseDuration", "00:00:10"),
        .. ExtraSettings(),
    ];

    protected virtual IEnumerable<KeyValuePair<string, string>> ExtraSettings() => [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<IWebhookNameResolver>(Names));
    }
}

// Webhooks only to public addresses, as in production.
public sealed class StrictWebhookApp : WebhookTestApp
{
    protected override bool AllowPrivateNetworks => false;
}

public sealed record WebhookSetup(long Id, string Secret, JsonElement Model, string Path);

public sealed record WebhookRow(
    long Id, string Url, string[]? Types, string? Description, bool Enabled, string? DisabledReason, DateTime? DisabledAt, DateTime CreatedAt);

public sealed record DeliveryRow(
    long Id, long EventId, string EventType, string Status, int Attempts, DateTime? LastAttemptAt, DateTime? NextAttemptAt, int? ResponseStatus,
    string? Error, int? DurationMs, string? ResponseBody, string? TraceId, DateTime CreatedAt);

public static class WebhookScenarios
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // A new tenant whose owner's own events were fanned out already: an endpoint registered next is sent only what the test does.
    public static async Task<TenantSetup> CreateSettledTenantAsync(this TestApp app)
    {
        var tenant = await app.CreateTenantAsync();
        await DatabaseSnapshot.SettledAsync(app);
        return tenant;
    }

    // Registers an endpoint in the tenant (or, with no tenant, a platform endpoint) and remembers its secret for the leak scan.
    public static async Task<WebhookSetup> CreateWebhookAsync(this TestApp app, TenantSetup? tenant, string url, string[]? types = null,
        string? description = null)
    {
        var path = tenant is null ? "/webhooks" : $"/tenant/{tenant.Id}/admin/webhooks";
        var created = (await app.PostAsync(path, new { url, types, description }, tenant?.OwnerToken ?? app.PlatformAdminToken))
            .AssertSuccess(HttpStatusCode.Created);
        var secret = created.GetProperty("secret").GetString()!;
        app.RememberSecret(secret);
        var id = created.GetProperty("id").GetInt64();
        return new WebhookSetup(id, secret, created, $"{path}/{id}");
    }

    public static async Task<DeliveryRow[]> DeliveriesAsync(this TestApp app, WebhookSetup webhook, string token) =>
        (await app.GetAsync($"{webhook.Path}/deliveries?limit=100", token)).AssertSuccess().Deserialize<DeliveryRow[]>(Json)!;

    public static async Task<DeliveryRow[]> WaitForDeliveriesAsync(this TestApp app, WebhookSetup webhook, string token, Func<DeliveryRow[], bool> done,
        int seconds = 30) =>
        (await Eventually.ValueAsync(async () => new DeliveryLog(await app.DeliveriesAsync(webhook, token)), log => done(log.Rows), seconds)).Rows;

    // What a failed wait prints: every delivery, one per line.
    private sealed record DeliveryLog(DeliveryRow[] Rows)
    {
        public override string ToString() => $"{Rows.Length} deliveries\n{string.Join("\n", Rows.Select(r => r.ToString()))}";
    }

    public static JsonElement Body(this ReceivedWebhook request) => JsonDocument.Parse(request.Body).RootElement;

    // A value read into its typed record, as the API's camelCase JSON gives it.
    public static T As<T>(this JsonElement value) => value.Deserialize<T>(Json)!;

    public static string Type(this ReceivedWebhook request) => request.Body().GetProperty("type").GetString()!;
}
