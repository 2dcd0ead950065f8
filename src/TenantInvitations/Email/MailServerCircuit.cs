using Polly;
using Polly.CircuitBreaker;

namespace TenantInvitations.Email;

// The way to the mail server, behind a Polly circuit breaker, as each webhook endpoint has its WebhookLane. When half the
// sends (at least two) in 30 s fail because the server can't be reached (connection, TLS, login, or a server-wide refusal), the circuit opens: the dispatcher
// stops claiming, so waiting emails keep their attempts, and one probe (a real send of one email) goes after a pause that
// doubles from 5 s up to 10 minutes. One warning when the server goes away, without a stack trace; one line when it is back.
internal sealed class MailServerCircuit
{
    private static readonly TimeSpan FirstProbe = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LongestPause = TimeSpan.FromMinutes(10);

    private readonly CircuitBreakerStateProvider state = new();
    private readonly ResiliencePipeline pipeline;
    private readonly TimeProvider clock;
    private DateTimeOffset pausedUntil;
    private DateTimeOffset downSince;
    private int down;

    public MailServerCircuit(string server, TimeProvider clock, ILogger logger)
    {
        this.clock = clock;
        pipeline = new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                StateProvider = state,
                // Half of the sends in 30 s, at least two: with 1.0, one success just before an outage would keep the circuit
                // closed for the rest of the window while every email in it used up an attempt.
                FailureRatio = 0.5,
                MinimumThroughput = 2,
                SamplingDuration = TimeSpan.FromSeconds(30),
                ShouldHandle = new PredicateBuilder().Handle<DeliveryException>(failure => failure.ConnectionFailed),
                BreakDurationGenerator = args => ValueTask.FromResult(PauseAfter(args.HalfOpenAttempts)),
                OnOpened = args =>
                {
                    pausedUntil = clock.GetUtcNow() + args.BreakDuration;
                    if (Interlocked.Exchange(ref down, 1) == 0)
                    {
                        downSince = clock.GetUtcNow();
                        logger.LogWarning("The mail server {Server} can't be reached ({Reason}). Emails wait in the outbox without using up their attempts; one is tried again in {Pause}, then less often.",
                            server, args.Outcome.Exception?.Message, args.BreakDuration);
                    }
                    return default;
                },
                OnClosed = _ =>
                {
                    if (Interlocked.Exchange(ref down, 0) == 1)
                    {
                        logger.LogInformation("The mail server {Server} is reachable again after {Downtime}; the waiting emails go out now.",
                            server, clock.GetUtcNow() - downSince);
                    }
                    return default;
                },
            })
            .Build();
    }

    // Nothing should be claimed now: the server is down and its next probe is not due.
    public bool IsResting => state.CircuitState is CircuitState.Open && clock.GetUtcNow() < pausedUntil
        || state.CircuitState is CircuitState.Isolated;

    // One send through the circuit. Throws BrokenCircuitException, without sending, while the server is taken to be down.
    public ValueTask SendAsync(Func<CancellationToken, Task> send, CancellationToken cancellationToken) =>
        pipeline.ExecuteAsync(async token => await send(token), cancellationToken);

    public static TimeSpan PauseAfter(int failedProbes)
    {
        var pause = FirstProbe * Math.Pow(2, Math.Min(failedProbes, 16));
        return pause < LongestPause ? pause : LongestPause;
    }
}
