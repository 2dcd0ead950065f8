using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace TenantInvitations.Api;

// Behind a load balancer the client's address is in X-Forwarded-For. It is believed only from the proxies listed here,
// and by default from none, so a client can't name its own address to get a fresh per-client rate limit.
internal sealed class TrustedProxyOptions
{
    public string[] KnownProxies { get; set; } = [];
    public string[] KnownNetworks { get; set; } = [];

    // How many addresses to take from the end of X-Forwarded-For: one per trusted proxy the request passed.
    [Range(1, 10, ErrorMessage = "ForwardedHeaders:ForwardLimit must be from 1 to 10.")]
    public int ForwardLimit { get; set; } = 1;

    public bool Any => KnownProxies.Length > 0 || KnownNetworks.Length > 0;
}

internal static class TrustedProxies
{
    public static void AddTrustedProxies(this WebApplicationBuilder builder)
    {
        builder.Services.AddSettings<TrustedProxyOptions>("ForwardedHeaders")
            .Validate(o => o.KnownProxies.All(p => IPAddress.TryParse(p, out _)), "ForwardedHeaders:KnownProxies must be IP addresses, such as 10.0.0.5.")
            .Validate(o => o.KnownNetworks.All(n => System.Net.IPNetwork.TryParse(n, out _)), "ForwardedHeaders:KnownNetworks must be networks such as 10.0.0.0/8.")
            .ValidateOnStart();
        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<TrustedProxyOptions>>((forwarded, trusted) =>
        {
            // The client's address (rate limits, audit) and whether it came over HTTPS (HSTS); never the host, as links are
            // built from App:PublicBaseUrl only.
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            forwarded.ForwardLimit = trusted.Value.ForwardLimit;
            // The framework trusts loopback by default; only the listed proxies are trusted here.
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in trusted.Value.KnownProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            }
            foreach (var network in trusted.Value.KnownNetworks)
            {
                forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
    }

    // Only with proxies configured: the middleware with empty lists would believe X-Forwarded-For from anyone.
    public static void UseTrustedProxies(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<TrustedProxyOptions>>().Value.Any)
        {
            app.UseForwardedHeaders();
        }
    }
}
