using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;
using TenantInvitations.Auth;

namespace TenantInvitations.Console;

internal sealed class ConsoleOptions
{
    // The console's OIDC client at Auth:Authority (authorization code with PKCE); without ClientId there is no OIDC sign-in.
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    // The sign-in form without an identity provider: on by default in Development only, refused at start in Production.
    public bool? DevSignIn { get; set; }
}

// The console at /console: Razor Pages in this folder, signed in with a cookie of its own (the API keeps bearer tokens), each
// page calling the API's own handlers so that it can never allow what the API refuses.
internal static class ConsoleSetup
{
    public const string CookieScheme = "console";
    public const string Policy = "console";
    public const string SignInPath = "/console/sign-in";
    public const string SignedInAt = "signed-in-at";
    public static readonly TimeSpan SessionLimit = TimeSpan.FromHours(12);

    // No inline script; styles may be inline only because the email preview's srcdoc frame inherits this policy. Forms post
    // to the console only, and their redirects may lead on to the identity provider (sign-in and sign-out) when there is one.
    private static string ContentSecurityPolicy(string? provider) =>
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
        + $"form-action 'self'{(provider is null ? "" : $" {provider}")}; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'";

    public static void AddConsole(this WebApplicationBuilder builder)
    {
        var options = Settings.Read<ConsoleOptions>(builder.Configuration, "Console");
        if (options.DevSignIn == true && builder.Environment.IsProduction())
        {
            throw new SettingException("Console:DevSignIn must not be true in Production: it lets anyone sign in as anyone. Register the console as an OIDC client (Console:ClientId) instead.");
        }
        builder.Services.AddSettings<ConsoleOptions>("Console");
        builder.Services.PostConfigure<ConsoleOptions>(o => o.DevSignIn ??= builder.Environment.IsDevelopment());
        var authentication = builder.Services.AddAuthentication();
        if (ConsoleOidc.IsConfigured(options))
        {
            authentication.AddConsoleOidc(options, Settings.Read<AuthOptions>(builder.Configuration, "Auth"), builder.Environment.IsDevelopment());
        }
        authentication.AddCookie(CookieScheme, cookie =>
        {
            cookie.Cookie.Name = "invitations-console";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            cookie.Cookie.SecurePolicy = builder.Environment.IsDevelopment() ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
            cookie.Cookie.Path = "/console";
            cookie.LoginPath = SignInPath;
            cookie.LogoutPath = "/console/sign-out";
            cookie.ExpireTimeSpan = TimeSpan.FromHours(8);
            cookie.SlidingExpiration = true;
            // Sliding keeps a working session open, but not past SessionLimit from its sign-in: then the person signs in again,
            // and the identity provider decides afresh (a platform admin it has demoted is one no more).
            cookie.Events.OnValidatePrincipal = async context =>
            {
                var now = context.HttpContext.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
                if (!context.Properties.Items.TryGetValue(SignedInAt, out var at) || !DateTimeOffset.TryParse(at, System.Globalization.CultureInfo.InvariantCulture,
                        System.Globalization.DateTimeStyles.AssumeUniversal, out var signedIn) || now - signedIn > SessionLimit)
                {
                    context.RejectPrincipal();
                    await context.HttpContext.SignOutAsync(CookieScheme);
                }
            };
            // The framework builds the sign-in redirect from the request's Host; a path can't send anyone elsewhere.
            cookie.Events.OnRedirectToLogin = context =>
            {
                context.Response.Redirect(new Uri(context.RedirectUri, UriKind.RelativeOrAbsolute) is { IsAbsoluteUri: true } absolute
                    ? absolute.PathAndQuery : context.RedirectUri);
                return Task.CompletedTask;
            };
        });
        builder.Services.AddAuthorizationBuilder().AddPolicy(Policy, policy => policy
            .AddAuthenticationSchemes(CookieScheme).RequireAuthenticatedUser());
        // The notice a form leaves for the page it redirects to: the console's path only, and Secure outside Development.
        builder.Services.Configure<Microsoft.AspNetCore.Mvc.CookieTempDataProviderOptions>(temp =>
        {
            temp.Cookie.Name = "invitations-console-notice";
            temp.Cookie.Path = "/console";
            temp.Cookie.SecurePolicy = builder.Environment.IsDevelopment() ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
        });
        builder.Services.AddRazorPages(pages =>
        {
            pages.RootDirectory = "/Console";
            pages.Conventions.AuthorizeFolder("/", Policy);
            pages.Conventions.AllowAnonymousToPage("/SignIn");
            pages.Conventions.ConfigureFilter(new ExpiredFormFilter());
        });
    }

    // The claims of a console session, as a bearer token would carry them, so that Caller reads both the same way.
    public static ClaimsPrincipal Principal(string subject, string? email, bool platformAdmin, bool emailVerified, string scheme)
    {
        var claims = new List<Claim> { new("sub", subject) };
        if (email is not null)
        {
            claims.Add(new Claim("email", email));
            claims.Add(new Claim("email_verified", emailVerified ? "true" : "false"));
        }
        if (platformAdmin)
        {
            claims.Add(new Claim("role", AuthOptions.PlatformAdminRole));
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme, "sub", "role"));
    }

    // Before authentication, so that its redirects to sign-in carry them too.
    public static void UseConsoleHeaders(this WebApplication app)
    {
        var policy = ContentSecurityPolicy(ConsoleOidc.IsConfigured(app.Services.GetRequiredService<IOptions<ConsoleOptions>>().Value)
            ? ConsoleOidc.Origin(app.Services.GetRequiredService<IOptions<AuthOptions>>().Value) : null);
        // Every console answer: its own policy, never cached (pages hold tenant data), never framed (X-Frame-Options stays).
        app.UseWhen(http => http.Request.Path.StartsWithSegments("/console"), console => console.Use((http, next) =>
        {
            http.Response.OnStarting(() =>
            {
                var headers = http.Response.Headers;
                headers.ContentSecurityPolicy = policy;
                if (!http.Request.Path.StartsWithSegments("/console/assets"))
                {
                    headers.CacheControl = "no-store";
                }
                return Task.CompletedTask;
            });
            return next(http);
        }));
    }

    public static void MapConsole(this WebApplication app)
    {
        var assets = Path.Combine(AppContext.BaseDirectory, "Console", "Assets");
        foreach (var (name, type) in new[] { ("console.css", "text/css; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8") })
        {
            var content = File.ReadAllBytes(Path.Combine(assets, name)); // at start: a missing file stops the service
            app.MapGet($"/console/assets/{name}", (HttpContext http) =>
            {
                http.Response.Headers.CacheControl = "public, max-age=300";
                return Results.Bytes(content, type);
            }).AllowAnonymous().ExcludeFromDescription();
        }
        app.MapRazorPages();
    }

    public static Task SignInAsync(HttpContext http, ClaimsPrincipal principal)
    {
        var properties = new AuthenticationProperties { IsPersistent = false };
        MarkSignIn(http, properties);
        return http.SignInAsync(CookieScheme, principal, properties);
    }

    // When the session began, which sliding renewals keep: SessionLimit counts from it.
    public static void MarkSignIn(HttpContext http, AuthenticationProperties properties) =>
        properties.Items[SignedInAt] = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow()
            .ToString("O", System.Globalization.CultureInfo.InvariantCulture);

    public static string LocalReturnUrl(string? returnUrl) => LocalPath(returnUrl, "/console", "/console");

    // A path of ours to go back to after a form: under the prefix, printable ASCII only (a Location header can't hold more,
    // and the framework would fail on it), never to another host; anything else is the fallback.
    public static string LocalPath(string? url, string prefix, string fallback) =>
        url is { Length: > 0 } && url.StartsWith(prefix, StringComparison.Ordinal) && url.All(c => c is > ' ' and < '\x7f')
            && !url.StartsWith("//", StringComparison.Ordinal) && !url.Contains('\\', StringComparison.Ordinal) ? url : fallback;
}
