using Microsoft.EntityFrameworkCore;
using Polly;
using Polly.Retry;

namespace TenantInvitations.Data;

internal static class Concurrency
{
    // When a racing change to the same row wins (its version moved on), read again and let the entity's rules decide anew:
    // a lost resend then answers 429, a lost accept 409, and a revoke that only lost to a resend simply succeeds.
    // A unique violation (two first accepts creating the same user), a deadlock or a serialization failure is decided the same way. If the row is still
    // contended after the last attempt, ErrorHandling answers 429 with Retry-After rather than a 500.
    public static readonly ResiliencePipeline Retry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder()
                .Handle<DbUpdateConcurrencyException>()
                .Handle<DbUpdateException>(Storage.IsUniqueViolation)
                .Handle<Exception>(Storage.IsRetryableConflict),
            MaxRetryAttempts = 5,
            Delay = TimeSpan.FromMilliseconds(5),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
        })
        .Build();
}
