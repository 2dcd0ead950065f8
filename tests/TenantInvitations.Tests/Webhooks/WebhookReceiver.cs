using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace TenantInvitations.Tests;

// A real HTTP server (Kestrel) on 127.0.0.1, inside the test process, for the service to deliver webhooks to. It keeps every
// request, answers each as the test last said (Respond), can hold requests until the test releases them, and can go down
// (connections refused) and come up again on the same port.
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedWebhook> received = new();
    private readonly ConcurrentDictionary<ReceivedWebhook, TaskCompletionSource<WebhookReply>> held = new();
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly Transcript? transcript;
    private Func<ReceivedWebhook, WebhookReply> choose = _ => WebhookReply.Ok;
    private WebApplication? app;
    private CancellationTokenSource? running;
    private int count;

    private WebhookReceiver(Transcript? transcript) => this.transcript = transcript;

    public int Port { get; private set; }
    public string Url => $"http://127.0.0.1:{Port}/hooks";
    public bool IsUp => Volatile.Read(ref app) is not null;
    public ReceivedWebhook[] Received => [.. received];
    public ReceivedWebhook[] Held => [.. held.Keys.OrderBy(r => r.Number)];

    // With a transcript (a TestApp's), every request goes into it too, so the app's leak scan covers what webhooks carried.
    public static async Task<WebhookReceiver> StartAsync(Transcript? transcript = null)
    {
        var receiver = new WebhookReceiver(transcript);
        await receiver.UpAsync();
        return receiver;
    }

    // Applies to requests that arrive from now on; a request already being answered keeps the reply it was given.
    public void Respond(WebhookReply reply) => Respond(_ => reply);

    public void Respond(Func<ReceivedWebhook, WebhookReply> choose) => Volatile.Write(ref this.choose, choose);

    public async Task<ReceivedWebhook[]> WaitForAsync(Func<IReadOnlyList<ReceivedWebhook>, bool> done, int seconds = 30)
    {
        var seen = await Eventually.ValueAsync(() => Task.FromResult(new Seen(Received)), s => done(s.Requests), seconds);
        return seen.Requests;
    }

    public Task<ReceivedWebhook[]> WaitForCountAsync(int count, int seconds = 30) => WaitForAsync(r => r.Count >= count, seconds);

    // Waits until at least count requests are being held, and returns those held.
    public async Task<ReceivedWebhook[]> WaitForHeldAsync(int count, int seconds = 30)
    {
        var seen = await Eventually.ValueAsync(() => Task.FromResult(new Seen(Held)), s => s.Requests.Length >= count, seconds);
        return seen.Requests;
    }

    // Answers every request held now with reply (200 by default); returns how many were released.
    public int Release(WebhookReply? reply = null)
    {
        reply ??= WebhookReply.Ok;
        if (reply.WaitsForRelease)
        {
            throw new ArgumentException("A held request is released with a reply that answers, not with Hold.", nameof(reply));
        }
        var released = 0;
        foreach (var request in held.Keys)
        {
            if (held.TryRemove(request, out var release) && release.TrySetResult(reply))
            {
                released++;
            }
        }
        return released;
    }

    // Stops listening, so connections are refused; requests in flight (held or slow) are aborted, not answered.
    public async Task DownAsync()
    {
        await gate.WaitAsync();
        try
        {
            if (app is null)
            {
                return;
            }
            await running!.CancelAsync();
            await app.StopAsync();
            await app.DisposeAsync();
            running.Dispose();
            Volatile.Write(ref app, null);
        }
        finally
        {
            gate.Release();
        }
    }

    // Listens again on the same port (the first time, on a free port that the system picks).
    public async Task UpAsync()
    {
        await gate.WaitAsync();
        try
        {
            if (app is not null)
            {
                return;
            }
            var builder = WebApplication.CreateSlimBuilder();
            // Nothing from the test folder's appsettings.json or the environment (the service's Urls, its logging).
            builder.Configuration.Sources.Clear();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, Port));
            var next = builder.Build();
            var stopping = new CancellationTokenSource();
            next.Run(http => HandleAsync(http, stopping.Token));
            await next.StartAsync();
            Port = new Uri(next.Urls.Single()).Port;
            running = stopping;
            Volatile.Write(ref app, next);
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DownAsync();
        gate.Dispose();
    }

    private async Task HandleAsync(HttpContext http, CancellationToken stopping)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
        string body;
        try
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync(cancel.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            return; // the sender went away before its request was whole: nothing was received
        }
        var headers = new HeaderDictionary();
        foreach (var (name, values) in http.Request.Headers)
        {
            headers[name] = values;
        }
        var request = new ReceivedWebhook
        {
            Number = Interlocked.Increment(ref count),
            Method = http.Request.Method,
            Path = http.Request.Path.Value ?? "",
            Query = http.Request.QueryString.Value ?? "",
            Headers = headers,
            Body = body,
            ArrivedAt = DateTimeOffset.UtcNow,
        };
        var reply = Volatile.Read(ref choose)(request);
        request.Reply = reply;
        TaskCompletionSource<WebhookReply>? release = null;
        if (reply.WaitsForRelease)
        {
            release = new TaskCompletionSource<WebhookReply>(TaskCreationOptions.RunContinuationsAsynchronously);
            held[request] = release;
        }
        received.Enqueue(request);
        transcript?.Add($"webhook request {request.Method} {request.Path}", request.Transcript());
        try
        {
            if (release is not null)
            {
                reply = await release.Task.WaitAsync(cancel.Token);
            }
            await AnswerAsync(http.Response, reply, cancel.Token);
            request.Answered = reply;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && (cancel.IsCancellationRequested || e is IOException))
        {
            // The sender gave up (a timeout, a killed process, enough of an endless body) or the receiver went down: nothing more is sent.
            // No longer held before it is marked aborted, so a test that saw it aborted sees it gone from Held.
            held.TryRemove(request, out _);
            request.Aborted = true;
            http.Abort();
        }
        finally
        {
            held.TryRemove(request, out _);
        }
    }

    private static async Task AnswerAsync(HttpResponse response, WebhookReply reply, CancellationToken cancellationToken)
    {
        if (reply.Delay > TimeSpan.Zero)
        {
            await Task.Delay(reply.Delay, cancellationToken);
        }
        response.StatusCode = reply.Status;
        if (reply.RetryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }
        if (reply.RetryAfterDate is { } date)
        {
            response.Headers.RetryAfter = date.ToString("R", CultureInfo.InvariantCulture);
        }
        if (reply.Location is { } location)
        {
            response.Headers.Location = location;
        }
        if (reply.Body is { } body)
        {
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync(body, cancellationToken);
        }
        if (reply.Endless)
        {
            // A body that never ends: 2 KiB every 5 ms until the sender hangs up.
            var chunk = Encoding.ASCII.GetBytes(new string('y', 2048));
            await response.StartAsync(cancellationToken);
            while (true)
            {
                await response.Body.WriteAsync(chunk, cancellationToken);
                await response.Body.FlushAsync(cancellationToken);
                await Task.Delay(5, cancellationToken);
            }
        }
    }

    // What Eventually prints when a wait times out: the requests seen, one per line.
    private sealed record Seen(ReceivedWebhook[] Requests)
    {
        public override string ToString() => $"{Requests.Length} request(s)\n{string.Join("\n", Requests.Select(r => r.ToString()))}";
    }
}

// One request as it arrived, and what it was answered.
public sealed class ReceivedWebhook
{
    private WebhookReply? reply;
    private WebhookReply? answered;
    private bool aborted;

    public required int Number { get; init; }
    public required string Method { get; init; }
    public required string Path { get; init; }
    public required string Query { get; init; }
    // Case-insensitive, as StandardWebhook.Verify takes them.
    public required IHeaderDictionary Headers { get; init; }
    public required string Body { get; init; }
    // Real time, whatever clock the service runs on.
    public required DateTimeOffset ArrivedAt { get; init; }

    // The reply chosen when it arrived (Hold for a held request).
    public WebhookReply? Reply { get => Volatile.Read(ref reply); internal set => Volatile.Write(ref reply, value); }
    // The reply sent in full (for a held request, the one it was released with); null while pending or when aborted.
    public WebhookReply? Answered { get => Volatile.Read(ref answered); internal set => Volatile.Write(ref answered, value); }
    public bool Aborted { get => Volatile.Read(ref aborted); internal set => Volatile.Write(ref aborted, value); }

    public string? Id => Header("webhook-id");
    public string? Timestamp => Header("webhook-timestamp");
    public string? Signature => Header("webhook-signature");

    public string? Header(string name) => Headers.TryGetValue(name, out var values) ? values.ToString() : null;

    public override string ToString() =>
        $"#{Number} {Method} {Path}{Query} webhook-id={Id} -> {(Answered is { } a ? a.ToString() : Aborted ? "aborted" : "pending")}";

    internal string Transcript()
    {
        var text = new StringBuilder($"{Method} {Path}{Query}\n");
        foreach (var (name, values) in Headers)
        {
            text.Append(name).Append(": ").Append(values.ToString()).Append('\n');
        }
        return text.Append('\n').Append(Body).ToString();
    }
}

// How the receiver answers a request. Combine with `with`: WebhookReply.WithStatus(503) with { Delay = ... }.
public sealed record WebhookReply
{
    public int Status { get; init; } = 200;
    public int? RetryAfterSeconds { get; init; }
    public string? Location { get; init; }
    public string? Body { get; init; }
    // Waited before answering; a sender that gives up meanwhile aborts it.
    public TimeSpan Delay { get; init; }
    // Answered only when the test calls Release, with the reply given there.
    public bool WaitsForRelease { get; init; }
    // Retry-After as an HTTP date rather than seconds.
    public DateTimeOffset? RetryAfterDate { get; init; }
    // A 200 whose body never ends, to show a sender reads only so much of it.
    public bool Endless { get; init; }

    public static WebhookReply Ok { get; } = new();
    public static WebhookReply Hold { get; } = new() { WaitsForRelease = true };

    public static WebhookReply WithStatus(int status) => new() { Status = status };
    public static WebhookReply RetryAfter(int status, int seconds) => new() { Status = status, RetryAfterSeconds = seconds };
    public static WebhookReply Slow(TimeSpan delay) => new() { Delay = delay };
    public static WebhookReply Redirect(string location, int status = 302) => new() { Status = status, Location = location };
    // 200 KiB by default: more than the 64 KiB a sender reads of a response.
    public static WebhookReply LargeBody(int bytes = 200 * 1024) => new() { Body = new string('x', bytes) };
    public static WebhookReply EndlessBody { get; } = new() { Endless = true };

    public override string ToString()
    {
        var text = new StringBuilder(WaitsForRelease ? "hold" : Status.ToString(CultureInfo.InvariantCulture));
        if (RetryAfterSeconds is { } seconds)
        {
            text.Append($" Retry-After: {seconds}");
        }
        if (Location is not null)
        {
            text.Append($" Location: {Location}");
        }
        if (Delay > TimeSpan.Zero)
        {
            text.Append($" after {Delay.TotalMilliseconds} ms");
        }
        if (Body is not null)
        {
            text.Append($" with a body of {Body.Length} chars");
        }
        return text.ToString();
    }
}
