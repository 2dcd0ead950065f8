using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Invitations;

namespace TenantInvitations.Tests;

// Three token requests a minute per client, so a test reaches the limit in a few requests, well inside one window.
public sealed class TokenLimitApp : TestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings() => [new("RateLimits:TokenRequestsPerMinute", "3")];
}

// The per-client limit on the public token endpoints. In-process requests have no client address of their own, so each
// request here is given one through the test server's hook for the HttpContext, as Kestrel would set it from the socket.
// Each test uses addresses no other test uses; setup never calls a limited endpoint (the Owner invitation's token is
// read from its email), so only the requests under test count.
public sealed class TokenRateLimitTests(TokenLimitApp app) : IClassFixture<TokenLimitApp>
{
    private static readonly string UnknownToken = new('A', 43);

    [Fact]
    public async Task Token_requests_past_the_per_client_limit_are_429_with_Retry_After_whatever_the_token()
    {
        var (invitationId, token) = await OwnerInvitationAsync();
        const string client = "203.0.113.10";

        (await SendFromAsync(client, HttpMethod.Get, $"/invitation?token={token}")).AssertSuccess();
        (await SendFromAsync(client, HttpMethod.Get, $"/invitation?token={UnknownToken}")).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await SendFromAsync(client, HttpMethod.Post, "/invitation/decline", JsonContent.Create(new { token = "guess" })))
            .AssertError(HttpStatusCode.BadRequest, "ValidationError");
        var refused = await SendFromAsync(client, HttpMethod.Post, "/invitation/accept", JsonContent.Create(new { token }));

        AssertRateLimited(refused);
        Assert.Equal(InvitationStatus.Pending, await StatusAsync(invitationId));
        // Another client is not affected, and the token still works.
        var accepted = await SendFromAsync("198.51.100.20", HttpMethod.Post, "/invitation/accept", JsonContent.Create(new { token }));
        Assert.Equal("Owner", accepted.AssertSuccess().GetProperty("role").GetString());
    }

    [Fact]
    public async Task Over_the_limit_the_accept_page_is_a_429_page_and_it_shares_the_budget_of_the_JSON_endpoints()
    {
        var (invitationId, token) = await OwnerInvitationAsync();
        const string client = "203.0.113.11";

        Assert.Equal(HttpStatusCode.OK, (await SendFromAsync(client, HttpMethod.Get, $"/accept?token={token}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendFromAsync(client, HttpMethod.Head, $"/accept?token={UnknownToken}")).Status);
        (await SendFromAsync(client, HttpMethod.Get, $"/invitation?token={token}")).AssertSuccess();
        var page = await SendFromAsync(client, HttpMethod.Get, $"/accept?token={token}");
        var answer = await SendFromAsync(client, HttpMethod.Post, "/accept",
            new FormUrlEncodedContent([new("token", token), new("decision", "accept")]));

        foreach (var refused in new[] { page, answer })
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
            Assert.Equal("text/html", refused.ContentHeaders?.ContentType?.MediaType);
            Assert.Contains("<h1>Too many attempts</h1>", refused.Body);
            Assert.DoesNotContain(token, refused.Body);
            Assert.Contains("no-store", refused.Headers.CacheControl?.ToString());
            Assert.InRange(refused.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        }
        AssertRateLimited(await SendFromAsync(client, HttpMethod.Post, "/invitation/decline", JsonContent.Create(new { token })));
        Assert.Equal(InvitationStatus.Pending, await StatusAsync(invitationId));
    }

    [Fact]
    public async Task Clients_are_told_apart_by_IPv4_address_and_by_IPv6_64_prefix()
    {
        foreach (var address in new[] { "2001:db8:a:b::1", "2001:db8:a:b::2", "2001:db8:a:b:1:2:3:4" })
        {
            (await SendFromAsync(address, HttpMethod.Get, $"/invitation?token={UnknownToken}")).AssertError(HttpStatusCode.NotFound, "NotFound");
        }
        AssertRateLimited(await SendFromAsync("2001:db8:a:b:ffff:ffff:ffff:ffff", HttpMethod.Get, $"/invitation?token={UnknownToken}"));
        (await SendFromAsync("2001:db8:a:c::1", HttpMethod.Get, $"/invitation?token={UnknownToken}")).AssertError(HttpStatusCode.NotFound, "NotFound");

        // A dual-stack socket reports an IPv4 client as an IPv4-mapped IPv6 address: it is the same client.
        for (var i = 0; i < 3; i++)
        {
            (await SendFromAsync("::ffff:192.0.2.44", HttpMethod.Get, $"/invitation?token={UnknownToken}")).AssertError(HttpStatusCode.NotFound, "NotFound");
        }
        AssertRateLimited(await SendFromAsync("192.0.2.44", HttpMethod.Get, $"/invitation?token={UnknownToken}"));
        (await SendFromAsync("192.0.2.45", HttpMethod.Get, $"/invitation?token={UnknownToken}")).AssertError(HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task Requests_without_a_client_address_share_one_budget()
    {
        for (var i = 0; i < 3; i++)
        {
            (await app.GetAsync($"/invitation?token={UnknownToken}")).AssertError(HttpStatusCode.NotFound, "NotFound");
        }
        AssertRateLimited(await app.GetAsync($"/invitation?token={UnknownToken}"));
    }

    [Fact]
    public async Task X_Forwarded_For_is_not_believed_by_default()
    {
        for (var i = 0; i < 3; i++)
        {
            (await app.SendFromAsync("203.0.113.14", HttpMethod.Get, $"/invitation?token={UnknownToken}", forwardedFor: $"198.51.100.{i + 1}"))
                .AssertError(HttpStatusCode.NotFound, "NotFound");
        }
        AssertRateLimited(await app.SendFromAsync("203.0.113.14", HttpMethod.Get, $"/invitation?token={UnknownToken}", forwardedFor: "198.51.100.9"));
    }

    [Fact]
    public async Task Admin_endpoints_are_not_counted_against_the_token_limit()
    {
        const string client = "203.0.113.12";
        for (var i = 0; i < 5; i++)
        {
            (await SendFromAsync(client, HttpMethod.Get, "/me/tenants", token: app.PlatformAdminToken)).AssertSuccess();
        }
        (await SendFromAsync(client, HttpMethod.Get, $"/invitation?token={UnknownToken}")).AssertError(HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task The_invitee_operations_document_429()
    {
        using var document = JsonDocument.Parse((await SendFromAsync("203.0.113.13", HttpMethod.Get, "/openapi/v1.json")).Body);
        var paths = document.RootElement.GetProperty("paths");
        foreach (var (path, method) in new[] { ("/invitation", "get"), ("/invitation/accept", "post"), ("/invitation/decline", "post") })
        {
            var operation = paths.GetProperty(path).GetProperty(method);
            Assert.True(operation.GetProperty("responses").TryGetProperty("429", out _), $"{method} {path} does not document 429.");
            Assert.Contains("RateLimits:TokenRequestsPerMinute", operation.GetProperty("description").GetString());
        }
    }

    // A tenant's Owner invitation: its token comes from the email, so no limited endpoint is called.
    private async Task<(long Id, string Token)> OwnerInvitationAsync()
    {
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var created = await app.PostAsync("/tenant", new { name = "Acme", ownerEmail }, app.PlatformAdminToken);
        var tenantId = created.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        var token = Mailbox.TokenFrom(Assert.Single(await app.WaitForEmailAsync(ownerEmail)));
        var id = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.TenantId == tenantId).Select(i => i.Id).SingleAsync());
        return (id, token);
    }

    private Task<InvitationStatus> StatusAsync(long invitationId) =>
        app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitationId).Select(i => i.Status).SingleAsync());

    internal static void AssertRateLimited(ApiResponse response)
    {
        response.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        var wait = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(wait);
        Assert.InRange(wait.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        Assert.Equal([$"Retry after {(long)wait.Value.TotalSeconds} seconds."], response.ErrorInfo);
    }

    private Task<ApiResponse> SendFromAsync(string? address, HttpMethod method, string path, HttpContent? content = null, string? token = null) =>
        app.SendFromAsync(address, method, path, content, token);
}

// Behind a load balancer: X-Forwarded-For is believed from the configured proxies only.
public sealed class ProxyApp : TestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
    [
        new("RateLimits:TokenRequestsPerMinute", "3"),
        new("ForwardedHeaders:KnownProxies:0", "10.0.0.5"),
        new("ForwardedHeaders:KnownNetworks:0", "10.1.0.0/16"),
    ];
}

public sealed class TrustedProxyTests(ProxyApp app) : IClassFixture<ProxyApp>
{
    private static readonly string Preview = $"/invitation?token={new string('A', 43)}";

    [Fact]
    public async Task Behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit()
    {
        for (var i = 0; i < 3; i++)
        {
            (await app.SendFromAsync("10.0.0.5", HttpMethod.Get, Preview, forwardedFor: "203.0.113.60")).AssertError(HttpStatusCode.NotFound, "NotFound");
        }

        TokenRateLimitTests.AssertRateLimited(await app.SendFromAsync("10.0.0.5", HttpMethod.Get, Preview, forwardedFor: "203.0.113.60"));
        // The same client through another proxy of the trusted network is still the same client.
        TokenRateLimitTests.AssertRateLimited(await app.SendFromAsync("10.1.2.3", HttpMethod.Get, Preview, forwardedFor: "203.0.113.60"));
        (await app.SendFromAsync("10.0.0.5", HttpMethod.Get, Preview, forwardedFor: "203.0.113.61")).AssertError(HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task A_client_that_is_not_a_trusted_proxy_cannot_name_its_own_address()
    {
        for (var i = 0; i < 3; i++)
        {
            (await app.SendFromAsync("198.51.100.80", HttpMethod.Get, Preview, forwardedFor: $"203.0.113.{70 + i}")).AssertError(HttpStatusCode.NotFound, "NotFound");
        }

        TokenRateLimitTests.AssertRateLimited(await app.SendFromAsync("198.51.100.80", HttpMethod.Get, Preview, forwardedFor: "203.0.113.79"));
    }

}

public static class ClientAddress
{
    // Sends a request as if from the given client address, which Kestrel would take from the socket.
    public static async Task<ApiResponse> SendFromAsync(this TestApp app, string? address, HttpMethod method, string path,
        HttpContent? content = null, string? token = null, string? forwardedFor = null)
    {
        var remote = address is null ? null : IPAddress.Parse(address);
        using var client = new HttpClient(app.Server.CreateHandler(http => http.Connection.RemoteIpAddress = remote)) { BaseAddress = app.Server.BaseAddress };
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }
        using var response = await client.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }
}
