using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace TenantInvitations.Bench;

// The webhook endpoints' other side, on loopback (Kestrel): answers 204 to every POST and notes when each delivery
// (endpoint path, webhook-id) first arrived. Hold() keeps the answers back until Release(), as the SMTP sink does, so a
// backlog builds up that the drain is timed on.
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication app;
    private volatile TaskCompletionSource released = Open();

    private WebhookReceiver(WebApplication app) => this.app = app;

    public ConcurrentDictionary<string, DateTime> Received { get; } = new();
    public string BaseUrl => app.Urls.First();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/{endpoint}", async (string endpoint, HttpContext http) =>
        {
            await receiver.released.Task;
            receiver.Received.TryAdd($"{endpoint}/{http.Request.Headers["webhook-id"]}", DateTime.UtcNow);
            return Results.NoContent();
        });
        await app.StartAsync();
        return receiver;
    }

    public void Hold() => released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => released.TrySetResult();

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        await app.DisposeAsync();
    }
}
