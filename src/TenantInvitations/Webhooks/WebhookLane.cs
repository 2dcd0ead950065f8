using System.Collections.Concurrent;
using Polly;
using Polly.CircuitBreaker;

namespace TenantInvitations.Webhooks;

// One endpoint's way out of this node: at most PerEndpoint requests at once, and a Polly circuit breaker. When every attempt in
// a row fails (no answer, 5xx, 408, 429), the circuit opens and the endpoint rests: its deliveries wait without using up their
// attempts, and one probe goes out after a pause that doubles from 5 s up to 10 minutes. One log line when it goes down, one
// when it is back. (The pace across nodes is kept in the database: WebhookDispatcher.)
internal sealed class WebhookLane : IDisposable
{
    private static readonly TimeSpan FirstProbe = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LongestPause = TimeSpan.FromMinutes(10);

    private readonly CircuitBreakerStateProvider state = new();
    private readonly ConcurrentDictionary<long, byte> heldBack = new();
    private readonly TimeProvider clock;
    private DateTimeOffset pausedUntil;
    private int down;
    private int probing;

    public WebhookLane(long endpointId, string url, TimeProvider clock, ILogger logger)
    {
        Url = url;
        this.clock = clock;
        var host = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host : "?";
        Breaker = new ResiliencePipelineBuilder<WebhookAttempt> { TimeProvider = clock }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<WebhookAttempt>
            {
                StateProvider = state,
                FailureRatio = 1.0,
                MinimumThroughput = 2,
                SamplingDuration = TimeSpan.FromSeconds(30),
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null || args.Outcome.Result?.EndpointDown == true),
                BreakDurationGenerator = args => ValueTask.FromResult(PauseAfter(args.HalfOpenAttempts)),
                OnOpened = args =>
                {
                    pausedUntil = clock.GetUtcNow() + args.BreakDuration;
                    Volatile.Write(ref probing, 0);
                    if (Interlocked.Exchange(ref down, 1) == 0)
                    {
                        logger.LogWarning("Webhook endpoint {EndpointId} ({Host}) is down ({Reason}); its deliveries wait, and it is probed again in {Pause}.",
                            endpointId, host, args.Outcome.Result?.Error ?? args.Outcome.Exception?.Message, args.BreakDuration);
                    }
                    return default;
                },
                OnHalfOpened = _ =>
                {
                    Volatile.Write(ref probing, 1);
                    return default;
                },
                OnClosed = _ =>
                {
                    Volatile.Write(ref probing, 0);
                    if (Interlocked.Exchange(ref down, 0) == 1)
                    {
                        logger.LogInformation("Webhook endpoint {EndpointId} ({Host}) is back; its waiting deliveries go out now.", endpointId, host);
                    }
                    return default;
                },
            })
            .Build();
    }

    // The URL the lane was made for: a changed URL is another destination, with a circuit of its own.
    public string Url { get; }
    public SemaphoreSlim Slots { get; } = new(WebhookOptions.PerEndpoint, WebhookOptions.PerEndpoint);
    public ResiliencePipeline<WebhookAttempt> Breaker { get; }

    // Open, or half-open with its one probe out: the endpoint is not known to be back.
    public bool IsPaused => state.CircuitState is not CircuitState.Closed;

    // Nothing of this endpoint should be claimed now: it is pausing, or its one probe is out.
    public bool IsResting => Volatile.Read(ref probing) == 1 || (state.CircuitState is CircuitState.Open && clock.GetUtcNow() < pausedUntil);

    // A delivery held back, untried, while the circuit was open: it goes as soon as the endpoint is back.
    public void HoldBack(long deliveryId) => heldBack[deliveryId] = 0;

    // Once after the circuit closed again: what was held back while it was open.
    public long[] TakeHeldBack()
    {
        var ids = heldBack.Keys.ToArray();
        foreach (var id in ids)
        {
            heldBack.TryRemove(id, out _);
        }
        return ids;
    }

    public static TimeSpan PauseAfter(int failedProbes)
    {
        var pause = FirstProbe * Math.Pow(2, Math.Min(failedProbes, 16));
        return pause < LongestPause ? pause : LongestPause;
    }

    public void Dispose() => Slots.Dispose();
}
