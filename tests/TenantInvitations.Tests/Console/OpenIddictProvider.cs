using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace TenantInvitations.Tests;

// Who the provider signs in next: it has no login page, so every authorization request is this person.
public sealed record ProviderUser(string Subject, string Email, bool EmailVerified = true, bool PlatformAdmin = false);

// A real OpenID Connect server (OpenIddict 7.9, degraded mode: no store) on its own loopback port. It knows two clients:
// the console (authorization code with PKCE required, one redirect URI) and an API client (client credentials) whose
// access tokens carry the service's audience. It records the authorization and end-session requests it was sent.
public sealed class OpenIddictProvider : IAsyncDisposable
{
    public const string ConsoleClientId = "invitations-console";
    public const string ConsoleClientSecret = "console-client-secret-for-tests";
    public const string Audience = "invitations-api";
    private const string ApiClientId = "invitations-api-client";
    private const string ApiClientSecret = "api-client-secret-for-tests";

    private readonly WebApplication server;
    private readonly int port = FreePort();

    public OpenIddictProvider(string consoleBaseUrl)
    {
        var redirectUri = $"{consoleBaseUrl}/console/signin-oidc";
        var postLogoutRedirectUri = $"{consoleBaseUrl}/console/signout-callback-oidc";
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(Issuer);
        builder.Services.AddAuthentication();
        builder.Services.AddOpenIddict().AddServer(options =>
        {
            options.SetIssuer(new Uri($"{Issuer}/"));
            options.SetAuthorizationEndpointUris("connect/authorize").SetTokenEndpointUris("connect/token").SetEndSessionEndpointUris("connect/logout");
            options.AllowAuthorizationCodeFlow().AllowClientCredentialsFlow().RequireProofKeyForCodeExchange();
            options.RegisterScopes(Scopes.OpenId, Scopes.Profile, Scopes.Email);
            options.AddEphemeralSigningKey().AddEphemeralEncryptionKey().DisableAccessTokenEncryption();
            options.EnableDegradedMode();
            options.UseAspNetCore().DisableTransportSecurityRequirement()
                .EnableAuthorizationEndpointPassthrough().EnableTokenEndpointPassthrough().EnableEndSessionEndpointPassthrough();
            // Without a store, the degraded mode leaves clients, redirect URIs and secrets to these handlers.
            options.AddEventHandler<ValidateAuthorizationRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                if (context.ClientId != ConsoleClientId)
                {
                    context.Reject(Errors.InvalidClient, "Unknown client.");
                }
                else if (context.RedirectUri != redirectUri)
                {
                    context.Reject(Errors.InvalidRequest, $"The redirect_uri is not registered: {context.RedirectUri}");
                }
                return default;
            }));
            options.AddEventHandler<ValidateTokenRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                var client = (context.Request.ClientId, context.Request.ClientSecret);
                if (client != (ConsoleClientId, ConsoleClientSecret) && client != (ApiClientId, ApiClientSecret))
                {
                    context.Reject(Errors.InvalidClient, "Unknown client or wrong secret.");
                }
                return default;
            }));
            options.AddEventHandler<ValidateEndSessionRequestContext>(handler => handler.UseInlineHandler(context =>
            {
                if (context.PostLogoutRedirectUri is { } uri && uri != postLogoutRedirectUri)
                {
                    context.Reject(Errors.InvalidRequest, $"The post_logout_redirect_uri is not registered: {uri}");
                }
                return default;
            }));
        });
        server = builder.Build();
        server.UseAuthentication();
        server.MapGet("/connect/authorize", (Func<HttpContext, IResult>)Authorize);
        server.MapPost("/connect/token", (Func<HttpContext, Task<IResult>>)TokenAsync);
        server.MapGet("/connect/logout", (HttpContext http) =>
        {
            EndSessionRequests.Enqueue(Parameters(http.Request.Query));
            return Results.SignOut(new AuthenticationProperties { RedirectUri = "/" }, [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        });
        server.StartAsync().GetAwaiter().GetResult();
    }

    public string Issuer => $"http://127.0.0.1:{port}";
    public string AuthorizationEndpoint => $"{Issuer}/connect/authorize";
    public ProviderUser User { get; set; } = new("oidc|nobody", "nobody@idp.test");
    public ConcurrentQueue<Dictionary<string, string>> AuthorizationRequests { get; } = new();
    public ConcurrentQueue<Dictionary<string, string>> EndSessionRequests { get; } = new();

    // An access token for the service's API: a platform admin, through the client credentials grant.
    public async Task<string> PlatformAdminTokenAsync()
    {
        using var client = new HttpClient();
        using var response = await client.PostAsync($"{Issuer}/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = GrantTypes.ClientCredentials,
            ["client_id"] = ApiClientId,
            ["client_secret"] = ApiClientSecret,
        }));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        return body.GetProperty("access_token").GetString()!;
    }

    private IResult Authorize(HttpContext http)
    {
        AuthorizationRequests.Enqueue(Parameters(http.Request.Query));
        var request = http.GetOpenIddictServerRequest()!;
        var user = User;
        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Subject, Claims.Role);
        identity.SetClaim(Claims.Subject, user.Subject).SetClaim(Claims.Email, user.Email);
        identity.AddClaim(new Claim(Claims.EmailVerified, user.EmailVerified ? "true" : "false", ClaimValueTypes.Boolean));
        if (user.PlatformAdmin)
        {
            identity.AddClaim(new Claim(Claims.Role, "platform-admin"));
        }
        identity.SetScopes(request.GetScopes());
        identity.SetDestinations(_ => [Destinations.IdentityToken, Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    private static async Task<IResult> TokenAsync(HttpContext http)
    {
        var request = http.GetOpenIddictServerRequest()!;
        if (request.IsAuthorizationCodeGrantType())
        {
            // The code's principal, as the authorization endpoint signed it in (PKCE and redirect_uri already checked).
            var code = await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            return Results.SignIn(code.Principal!, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        }
        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Subject, Claims.Role);
        identity.SetClaim(Claims.Subject, "oidc|platform-root").SetClaim(Claims.Email, "root@idp.test");
        identity.AddClaim(new Claim(Claims.EmailVerified, "true", ClaimValueTypes.Boolean));
        identity.AddClaim(new Claim(Claims.Role, "platform-admin"));
        identity.SetResources(Audience);
        identity.SetDestinations(_ => [Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    private static Dictionary<string, string> Parameters(IQueryCollection query) => query.ToDictionary(p => p.Key, p => p.Value.ToString());

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync() => await server.DisposeAsync();
}
