using Microsoft.AspNetCore.HostFiltering;
using Microsoft.Net.Http.Headers;

namespace TenantInvitations.Api;

// What every response carries and what no request may do, whatever endpoint it reaches.
internal static class Hardening
{
    // For everything but HTML: nothing may load from, frame or be framed by a JSON answer. The accept page sets its own.
    public const string ApiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";

    public static void AddHardening(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = Limits.RequestBodyBytes);
        // The framework runs host filtering before anything else, where its 400 can't be the envelope; UseHostChecks runs it later.
        var outermost = builder.Services.Where(s => s.ServiceType == typeof(IStartupFilter)
            && s.ImplementationType?.FullName == "Microsoft.AspNetCore.HostFilteringStartupFilter").ToList();
        foreach (var descriptor in outermost)
        {
            builder.Services.Remove(descriptor);
        }
        builder.Services.Configure<HostFilteringOptions>(o => o.IncludeFailureMessage = false);
    }

    // Before the envelope errors, so their answers carry the headers too.
    public static void UseSecurityHeaders(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment())
        {
            // Sent only over HTTPS (and never to localhost): behind a TLS-terminating proxy, list it in ForwardedHeaders:KnownProxies
            // so its X-Forwarded-Proto makes the request HTTPS (Api/TrustedProxies.cs).
            app.UseHsts();
        }
        app.Use((http, next) =>
        {
            http.Response.OnStarting(() =>
            {
                var headers = http.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                // An HTML page without a policy of its own is the Development docs page, which loads its scripts.
                if (!headers.ContainsKey(HeaderNames.ContentSecurityPolicy)
                    && !(http.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) ?? false))
                {
                    headers.ContentSecurityPolicy = ApiContentSecurityPolicy;
                }
                return Task.CompletedTask;
            });
            return next(http);
        });
    }

    // After the envelope errors: an unknown Host (with AllowedHosts set) is a 400 envelope, and TRACE is a 405 envelope everywhere.
    public static void UseHostChecks(this WebApplication app)
    {
        // Health probes come from load balancers and orchestrators by IP address, and their answers hold no links.
        app.UseWhen(http => !http.Request.Path.StartsWithSegments("/health"), branch => branch.UseHostFiltering());
        app.Use((http, next) => HttpMethods.IsTrace(http.Request.Method) || http.Request.Method.Equals("TRACK", StringComparison.OrdinalIgnoreCase)
            ? new Failure(StatusCodes.Status405MethodNotAllowed, new ApiError(ErrorCode.MethodNotAllowed, "TRACE is not supported.", [])).ExecuteAsync(http)
            : next(http));
    }
}
