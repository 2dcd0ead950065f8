using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Options;

namespace TenantInvitations.Webhooks;

// What one POST to an endpoint came to. No status: the request never got an answer (refused, unreachable, timed out).
internal sealed record WebhookAttempt(int? Status, string? Error, string? ResponseBody, int DurationMs, TimeSpan? RetryAfter)
{
    public bool Succeeded => Status is >= 200 and < 300;
    public bool Gone => Status == 410;
    // What says the endpoint itself is down, rather than refusing this one event: its circuit opens on these.
    public bool EndpointDown => Status is null or >= 500 or 429 or 408;
}

// POSTs an event to an endpoint as Standard Webhooks says, through the SSRF-checked client: at most Webhooks:Timeout, no
// redirects followed, at most 64 KiB of the answer read.
internal sealed class WebhookSender(IHttpClientFactory clients, TimeProvider clock, IOptions<WebhookOptions> options)
{
    public const string ClientName = "webhooks";
    public const int MaxResponseBytes = 64 * 1024;

    public async Task<WebhookAttempt> SendAsync(string url, IReadOnlyList<string> secrets, long eventId, string body)
    {
        var timestamp = clock.GetUtcNow();
        var id = eventId.ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("webhook-id", id);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", WebhookSecrets.Sign(secrets, id, timestamp, body));
        // Once started, an attempt runs to its end even while the service stops: the timeout bounds it.
        using var timeout = new CancellationTokenSource(options.Value.Timeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var answer = await ReadStartAsync(response.Content, timeout.Token);
            var status = (int)response.StatusCode;
            var error = status switch
            {
                >= 200 and < 300 => null,
                >= 300 and < 400 => $"The endpoint answered {status} (a redirect, which is not followed).",
                _ => $"The endpoint answered {status}.",
            };
            return new WebhookAttempt(status, error, answer, Elapsed(started), RetryAfter(response.Headers.RetryAfter, timestamp));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return new WebhookAttempt(null, $"No answer within {options.Value.Timeout.TotalSeconds:0.#} s.", null, Elapsed(started), null);
        }
        catch (HttpRequestException exception)
        {
            // The refusal of a private address says why in its own words; the socket's message names only the host.
            var why = exception.InnerException as WebhookAddressRefusedException is { } refused ? refused.Message : exception.Message;
            return new WebhookAttempt(null, $"Could not connect: {why}", null, Elapsed(started), null);
        }
    }

    // The first 1 KiB of the answer is kept; at most 64 KiB of it is read, however much the receiver sends.
    private static async Task<string?> ReadStartAsync(HttpContent content, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[MaxResponseBytes];
            var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
            // Kept as text a database can store: no NUL or other control character, and no surrogate pair cut in half.
            var text = new string([.. Encoding.UTF8.GetString(buffer, 0, Math.Min(read, WebhookDelivery.KeptResponseChars * 4))
                .Where(c => !char.IsControl(c) || c is '\n' or '\r' or '\t')]);
            var kept = Math.Min(text.Length, WebhookDelivery.KeptResponseChars);
            if (kept < text.Length && char.IsHighSurrogate(text[kept - 1]))
            {
                kept--;
            }
            return kept == 0 ? null : text[..kept];
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException)
        {
            return null; // the status already came; a body cut short changes nothing
        }
    }

    // Retry-After in seconds or as a date; at most the longest wait of the schedule.
    private static TimeSpan? RetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now)
    {
        var wait = header?.Delta ?? (header?.Date is { } date ? date - now : null);
        var longest = WebhookDelivery.RetrySchedule[^1];
        return wait is { } w && w > TimeSpan.Zero ? (w < longest ? w : longest) : null;
    }

    private static int Elapsed(long started) => (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}

internal static class WebhookSetup
{
    public static void AddWebhookDelivery(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IWebhookNameResolver, DnsWebhookNameResolver>();
        builder.Services.AddSingleton<WebhookSecrets>();
        builder.Services.AddSingleton<WebhookRegistration>();
        builder.Services.AddSingleton<WebhookSender>();
        builder.Services.AddSingleton<WebhookFanOut>();
        builder.Services.AddSingleton<WebhookSignal>();
        // Connects only to the address it checked (no proxy, which would be checked instead), follows no redirect, keeps no
        // cookie. Its default request log would hold the URL, which may carry the receiver's own key: there is none.
        builder.Services.AddHttpClient(WebhookSender.ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(services => new SocketsHttpHandler
            {
                ConnectCallback = WebhookAddresses.ConnectCallback(services.GetRequiredService<IWebhookNameResolver>(),
                    services.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowPrivateNetworks),
                UseProxy = false,
                AllowAutoRedirect = false,
                UseCookies = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            })
            .RemoveAllLoggers();
        builder.Services.AddHostedService<WebhookDispatcher>();
    }
}
