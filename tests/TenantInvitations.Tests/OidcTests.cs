using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace TenantInvitations.Tests;

// A real OpenID Connect provider on loopback: discovery document and JWKS, tokens signed with RS256.
public sealed class OidcProvider : IAsyncDisposable
{
    public const string Audience = "invitations-api";
    private readonly RSA rsa = RSA.Create(2048);
    private readonly WebApplication server;

    public OidcProvider()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        server = builder.Build();
        var key = new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = "test-key" };
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(key);
        var keyId = jwk.Kid ?? "test-key";
        server.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Issuer,
            ["jwks_uri"] = $"{Issuer}/jwks",
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        server.MapGet("/jwks", () => Results.Json(new { keys = new[] { new { kty = jwk.Kty, kid = keyId, use = "sig", alg = "RS256", n = jwk.N, e = jwk.E } } }));
        server.StartAsync().GetAwaiter().GetResult();
        issuer = server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
    }

    private string issuer = "";

    public string Issuer => issuer;

    public string Token(string subject, string email, string audience = Audience, string? issuer = null, bool platformAdmin = false, bool? emailVerified = true)
    {
        var claims = new List<Claim> { new("sub", subject), new("email", email) };
        if (emailVerified is { } verified)
        {
            claims.Add(new Claim("email_verified", verified ? "true" : "false", ClaimValueTypes.Boolean));
        }
        if (platformAdmin)
        {
            claims.Add(new Claim("role", "platform-admin"));
        }
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Issuer,
            Audience = audience,
            Subject = new ClaimsIdentity(claims),
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = "test-key" }, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        rsa.Dispose();
    }
}

public sealed class OidcTestApp : TestApp
{
    public OidcProvider Provider { get; } = new();

    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
    [
        new("Auth:Authority", Provider.Issuer),
        new("Auth:Audience", OidcProvider.Audience),
        new("Auth:RequireHttpsMetadata", "false"),
    ];

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await Provider.DisposeAsync();
    }
}

public sealed class OidcTests(OidcTestApp app) : IClassFixture<OidcTestApp>
{
    [Fact]
    public async Task Token_from_the_authority_is_accepted_and_drives_the_whole_flow()
    {
        var admin = app.Provider.Token("oidc|root", "root@idp.test", platformAdmin: true);
        var created = await app.PostAsync("/tenant", new { name = "Oidc Co", ownerEmail = "owner@oidc.test" }, admin);
        var tenantId = created.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        var email = Assert.Single(await app.Mail.WaitForAsync("owner@oidc.test"));

        var owner = app.Provider.Token("oidc|owner", "owner@oidc.test");
        (await app.PostAsync("/invitation/accept", new { token = Mailbox.TokenFrom(email) }, owner)).AssertSuccess();
        (await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation", owner)).AssertSuccess();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(null)]
    public async Task An_email_the_provider_does_not_mark_verified_cannot_accept_or_match(bool? emailVerified)
    {
        var admin = app.Provider.Token("oidc|root2", "root@idp.test", platformAdmin: true);
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var created = await app.PostAsync("/tenant", new { name = "Unverified Co", ownerEmail }, admin);
        var tenantId = created.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        var link = Mailbox.TokenFrom(Assert.Single(await app.Mail.WaitForAsync(ownerEmail)));

        var unverified = app.Provider.Token($"oidc|{Guid.NewGuid():N}", ownerEmail, emailVerified: emailVerified);
        Assert.Contains("no verified email", (await app.PostAsync("/invitation/accept", new { token = link }, unverified))
            .AssertError(HttpStatusCode.Forbidden, "EmailMismatch").Json.GetProperty("error").GetProperty("message").GetString());

        // Accepted through the link alone, the Owner is matched later only by a verified email, which then owns the user.
        (await app.PostAsync("/invitation/accept", new { token = link })).AssertSuccess();
        (await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation", unverified)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        var verified = app.Provider.Token($"oidc|{Guid.NewGuid():N}", ownerEmail);
        (await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation", verified)).AssertSuccess();
        var someoneElse = app.Provider.Token($"oidc|{Guid.NewGuid():N}", ownerEmail);
        (await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation", someoneElse)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
    }

    [Fact]
    public async Task Wrong_audience_wrong_issuer_and_locally_signed_tokens_are_401()
    {
        (await app.GetAsync("/me/tenants", app.Provider.Token("a", "a@idp.test", audience: "someone-else"))).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        (await app.GetAsync("/me/tenants", app.Provider.Token("a", "a@idp.test", issuer: "https://evil.example"))).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        // With an authority configured, the local signing key no longer signs anything valid.
        (await app.GetAsync("/me/tenants", TestApp.Token("a", "a@idp.test", audience: OidcProvider.Audience))).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        (await app.GetAsync("/me/tenants", app.Provider.Token("a", "a@idp.test"))).AssertSuccess();
    }
}
