using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;

namespace TenantInvitations.Invitations;

internal sealed class RateLimitOptions
{
    [Range(1, 1_000_000, ErrorMessage = "RateLimits:TokenRequestsPerMinute must be from 1 to 1000000.")]
    public int TokenRequestsPerMinute { get; set; } = 100;
}

// Against guessing tokens: each client address gets a budget of requests a minute on the public endpoints that take an
// invitation token, the JSON ones and the accept page together. Every request counts, with a real token or not.
internal static class TokenRateLimit
{
    public const string Policy = "invitation-token";
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    public static void AddTokenRateLimit(this WebApplicationBuilder builder)
    {
        builder.Services.AddSettings<RateLimitOptions>("RateLimits").ValidateOnStart();
        builder.Services.AddRateLimiter(limiter =>
        {
            // The framework answers 503 by default; a client over its limit gets 429 RateLimited with Retry-After.
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = RejectAsync;
            limiter.AddPolicy(Policy, http =>
            {
                var perMinute = http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value.TokenRequestsPerMinute;
                return RateLimitPartition.GetFixedWindowLimiter(ClientKey(http.Connection.RemoteIpAddress),
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = Window, QueueLimit = 0 });
            });
        });
    }

    // One budget per address. An IPv6 client usually holds a whole /64, so the /64 is one client. Requests without an
    // address (a Unix socket behind a proxy, the in-process test server) share one budget rather than go unlimited.
    public static string ClientKey(IPAddress? address)
    {
        if (address is null)
        {
            return "no-address";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return $"{new IPAddress(bytes)}/64";
    }

    // The accept page answers a person in a browser, so it explains in HTML; the JSON endpoints answer with the envelope.
    private static ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : Window;
        var http = context.HttpContext;
        return new ValueTask(http.GetEndpoint()?.Metadata.GetMetadata<AcceptPage.PageEndpoint>() is not null
            ? AcceptPage.RateLimitedAsync(http, retryAfter)
            : Failure.RateLimited(retryAfter, "Too many requests with invitation tokens from your address; wait, then try again.").ExecuteAsync(http));
    }
}
