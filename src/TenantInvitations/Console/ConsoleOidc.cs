using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using TenantInvitations.Auth;

namespace TenantInvitations.Console;

// The console's sign-in through the identity provider at Auth:Authority: authorization code with PKCE, the provider's
// claims turned into the console cookie's own (ConsoleSetup.Principal), every address back to us built from App:PublicBaseUrl.
internal static class ConsoleOidc
{
    public const string Scheme = "console-oidc";
    public const string CallbackPath = "/console/signin-oidc";
    public const string SignedOutCallbackPath = "/console/signout-callback-oidc";
    public const string FailedQuery = "failed";

    public static bool IsConfigured(ConsoleOptions options) => !string.IsNullOrWhiteSpace(options.ClientId);

    public static void AddConsoleOidc(this AuthenticationBuilder authentication, ConsoleOptions console, AuthOptions auth, bool development)
    {
        if (string.IsNullOrWhiteSpace(auth.Authority))
        {
            throw new SettingException(
                "Console:ClientId is set, so Auth:Authority is required: set it to the issuer URL of the identity provider the console signs in with.");
        }
        authentication.AddOpenIdConnect(Scheme, oidc =>
        {
            oidc.Authority = auth.Authority;
            oidc.RequireHttpsMetadata = auth.RequireHttpsMetadata;
            oidc.ClientId = console.ClientId;
            oidc.ClientSecret = string.IsNullOrEmpty(console.ClientSecret) ? null : console.ClientSecret;
            oidc.SignInScheme = ConsoleSetup.CookieScheme;
            oidc.SignOutScheme = ConsoleSetup.CookieScheme;
            oidc.ResponseType = OpenIdConnectResponseType.Code;
            // The code comes back in a top-level GET, so the correlation cookies can be SameSite=Lax like the console's own.
            oidc.ResponseMode = OpenIdConnectResponseMode.Query;
            oidc.UsePkce = true;
            oidc.Scope.Clear();
            foreach (var scope in new[] { "openid", "profile", "email" })
            {
                oidc.Scope.Add(scope);
            }
            oidc.MapInboundClaims = false;
            oidc.TokenValidationParameters.NameClaimType = "sub";
            oidc.TokenValidationParameters.RoleClaimType = auth.RoleClaim;
            oidc.CallbackPath = CallbackPath;
            oidc.SignedOutCallbackPath = SignedOutCallbackPath;
            oidc.RemoteSignOutPath = "/console/signout-oidc";
            oidc.SignedOutRedirectUri = ConsoleSetup.SignInPath;
            foreach (var cookie in new[] { oidc.CorrelationCookie, oidc.NonceCookie })
            {
                cookie.SameSite = SameSiteMode.Lax;
                cookie.SecurePolicy = development ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
            }
            oidc.Events = new OpenIdConnectEvents
            {
                // The framework builds these addresses from the request's Host, which a client chooses; ours are configured.
                OnRedirectToIdentityProvider = context =>
                {
                    context.ProtocolMessage.RedirectUri = PublicUri(context.HttpContext, CallbackPath);
                    return Task.CompletedTask;
                },
                OnAuthorizationCodeReceived = context =>
                {
                    context.TokenEndpointRequest!.RedirectUri = PublicUri(context.HttpContext, CallbackPath);
                    return Task.CompletedTask;
                },
                OnRedirectToIdentityProviderForSignOut = context =>
                {
                    context.ProtocolMessage.PostLogoutRedirectUri = PublicUri(context.HttpContext, SignedOutCallbackPath);
                    // Some providers (Keycloak) want client_id with a post-logout redirect when there is no id_token_hint.
                    context.ProtocolMessage.ClientId = console.ClientId;
                    return Task.CompletedTask;
                },
                OnTokenValidated = context =>
                {
                    var provided = context.Principal!;
                    var email = provided.FindFirst("email")?.Value;
                    var emailVerified = string.Equals(provided.FindFirst("email_verified")?.Value, "true", StringComparison.OrdinalIgnoreCase);
                    var platformAdmin = provided.FindAll(auth.RoleClaim).Any(role => role.Value == AuthOptions.PlatformAdminRole);
                    var principal = ConsoleSetup.Principal(provided.FindFirst("sub")?.Value ?? "", email, platformAdmin, emailVerified,
                        ConsoleSetup.CookieScheme);
                    if (UnusableClaimsException.Check(principal) is { } unusable)
                    {
                        context.Fail(unusable);
                        return Task.CompletedTask;
                    }
                    context.Principal = principal;
                    ConsoleSetup.MarkSignIn(context.HttpContext, context.Properties!);
                    // Only the id token is kept (for id_token_hint at sign-out); the access token is of no use to the console.
                    if (context.TokenEndpointResponse?.IdToken is { } idToken)
                    {
                        context.Properties!.StoreTokens([new AuthenticationToken { Name = OpenIdConnectParameterNames.IdToken, Value = idToken }]);
                    }
                    return Task.CompletedTask;
                },
                // A refused or broken sign-in is a message on the sign-in page, not a 500.
                OnRemoteFailure = context =>
                {
                    context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConsoleOidc))
                        .LogWarning("The console's sign-in with the identity provider failed: {Reason}", context.Failure?.Message);
                    context.Response.Redirect($"{ConsoleSetup.SignInPath}?{FailedQuery}=1");
                    context.HandleResponse();
                    return Task.CompletedTask;
                },
            };
        });
    }

    // Whether signing out should also end the provider's session: only if its metadata names an end_session_endpoint.
    public static async Task<bool> CanEndSessionAsync(HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<IOptionsMonitor<OpenIdConnectOptions>>().Get(Scheme);
        try
        {
            var configuration = await options.ConfigurationManager!.GetConfigurationAsync(http.RequestAborted);
            return !string.IsNullOrEmpty(configuration.EndSessionEndpoint);
        }
        catch (InvalidOperationException)
        {
            return false; // the provider's metadata can't be read now: the console session still ends
        }
    }

    // Whether the provider's metadata can be read now; without it a challenge would fail with a 500.
    public static async Task<bool> CanReachAsync(HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<IOptionsMonitor<OpenIdConnectOptions>>().Get(Scheme);
        try
        {
            await options.ConfigurationManager!.GetConfigurationAsync(http.RequestAborted);
            return true;
        }
        catch (InvalidOperationException exception)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ConsoleOidc))
                .LogWarning("The console can't read the identity provider's metadata at {Authority}: {Reason}", options.Authority, exception.Message);
            return false;
        }
    }

    // The origin the console's forms lead to when they sign in or out there (the CSP's form-action applies to redirects).
    public static string? Origin(AuthOptions auth) =>
        Uri.TryCreate(auth.Authority, UriKind.Absolute, out var authority) ? authority.GetLeftPart(UriPartial.Authority) : null;

    private static string PublicUri(HttpContext http, string path) =>
        new Uri(http.RequestServices.GetRequiredService<IOptions<AppOptions>>().Value.BaseUri, path.TrimStart('/')).ToString();
}
