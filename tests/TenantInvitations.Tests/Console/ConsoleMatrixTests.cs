using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace TenantInvitations.Tests;

// The console's security matrix: every page, enumerated from the app's own routes, against each visitor who must be refused:
// signed out (sent to sign in), a Member (403, as the API), someone of another tenant (404: the console does not tell
// outsiders which tenants exist, where the API answers 403), a tenant that does not exist (404), and another tenant's
// invitation, webhook or import named under one's own tenant (404). A page added without a row
// in Pages fails Every_console_route_has_a_row.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class ConsoleMatrixTests(WebhookTestApp app) : IClassFixture<WebhookTestApp>
{
    public static bool IsConsole(RouteEndpoint endpoint) => ("/" + endpoint.RoutePattern.RawText!.TrimStart('/')).StartsWith("/console", StringComparison.Ordinal);

    // Each console route: the path to call ({t} the tenant, {invitation}, {webhook} and {import} its resources) and who may open it.
    private sealed record PageCase(string Path, bool Public = false, bool InTenant = true, string ContentType = "text/html");

    private static readonly Dictionary<string, PageCase> Pages = new()
    {
        ["/console/sign-in"] = new("/console/sign-in", Public: true, InTenant: false),
        ["/console/sign-out"] = new("/console/sign-out", InTenant: false),
        ["/console"] = new("/console", InTenant: false),
        ["/console/tenants/{tenantId:long}/invitations"] = new("/console/tenants/{t}/invitations"),
        ["/console/tenants/{tenantId:long}/invitations/{id:long}"] = new("/console/tenants/{t}/invitations/{invitation}"),
        ["/console/tenants/{tenantId:long}/members"] = new("/console/tenants/{t}/members"),
        ["/console/tenants/{tenantId:long}/audit"] = new("/console/tenants/{t}/audit"),
        ["/console/tenants/{tenantId:long}/settings"] = new("/console/tenants/{t}/settings"),
        ["/console/tenants/{tenantId:long}/webhooks"] = new("/console/tenants/{t}/webhooks"),
        ["/console/tenants/{tenantId:long}/webhooks/{id:long}"] = new("/console/tenants/{t}/webhooks/{webhook}"),
        ["/console/tenants/{tenantId:long}/imports"] = new("/console/tenants/{t}/imports"),
        ["/console/tenants/{tenantId:long}/imports/{importId:long}/results"] = new("/console/tenants/{t}/imports/{import}/results", ContentType: "text/csv"),
        ["/console/assets/console.css"] = new("/console/assets/console.css", Public: true, InTenant: false, ContentType: "text/css"),
        ["/console/assets/console.js"] = new("/console/assets/console.js", Public: true, InTenant: false, ContentType: "text/javascript"),
    };

    private sealed record Resources(TenantSetup Tenant, long Invitation, long Webhook, long Import)
    {
        public string Fill(string path) => path.Replace("{t}", Tenant.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{invitation}", $"{Invitation}", StringComparison.Ordinal).Replace("{webhook}", $"{Webhook}", StringComparison.Ordinal)
            .Replace("{import}", $"{Import}", StringComparison.Ordinal);
    }

    private async Task<Resources> ResourcesAsync(string name)
    {
        var tenant = await app.CreateTenantAsync(name);
        var invitation = await app.InviteAsync(tenant);
        var webhook = await app.CreateWebhookAsync(tenant, "http://127.0.0.1:9/console-matrix");
        (await app.PutAsync(webhook.Path, tenant.OwnerToken, new { enabled = false })).AssertSuccess();
        var importPath = ImportsTests.ImportPath(tenant.Id);
        var email = Scenarios.UniqueEmail("console-import");
        var import = (await app.SendAsync(HttpMethod.Post, importPath, tenant.OwnerToken, rawBody: $"email\n{email}\n", contentType: "text/csv"))
            .AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();
        await Eventually.ValueAsync(async () => (await app.GetAsync($"{importPath}/{import}", tenant.OwnerToken)).AssertSuccess().GetProperty("status").GetString(),
            status => status == "Completed");
        await app.WaitForEmailAsync(email);
        return new Resources(tenant, invitation.Id, webhook.Id, import);
    }

    [Fact]
    public void Every_console_route_has_a_row_and_every_row_a_route()
    {
        var routes = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().Where(IsConsole)
            .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/')).Distinct().ToList();

        Assert.Empty(routes.Except(Pages.Keys));
        Assert.Empty(Pages.Keys.Except(routes));
    }

    [Fact]
    public async Task A_signed_out_visitor_is_sent_to_sign_in_from_every_page_but_the_public_ones()
    {
        var mine = await ResourcesAsync("Signed Out Co");
        using var visitor = new ConsoleSession(ConsoleSession.Client(app));

        foreach (var (route, page) in Pages)
        {
            var path = mine.Fill(page.Path);
            var answer = await visitor.GetAsync(path);
            if (page.Public)
            {
                Assert.True(answer.Status == HttpStatusCode.OK, $"{route}: {(int)answer.Status}");
                continue;
            }
            Assert.True(answer.Status == HttpStatusCode.Found, $"{route}: {(int)answer.Status}");
            Assert.Equal($"/console/sign-in?ReturnUrl={Uri.EscapeDataString(path)}", answer.Location);
        }
    }

    [Fact]
    public async Task Every_tenant_page_is_403_to_a_Member_and_404_to_another_tenants_Owner_and_for_a_tenant_that_does_not_exist()
    {
        var mine = await ResourcesAsync("Matrix Co");
        var member = await app.AddMemberAsync(mine.Tenant, "Member");
        var other = await app.CreateTenantAsync("Other Co");
        using var asMember = await ConsoleSession.SignInAsync(app, $"sub-{member.Email}", member.Email);
        using var asOtherOwner = await ConsoleSession.OwnerAsync(app, other);
        using var asPlatformAdmin = await ConsoleSession.SignInAsync(app, "platform-root", "root@platform.test", platformAdmin: true);
        var before = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TenantId == mine.Tenant.Id && a.Action != "platform_admin.read"));

        foreach (var (route, page) in Pages.Where(p => p.Value.InTenant))
        {
            var path = mine.Fill(page.Path);
            var refusedMember = await asMember.GetAsync(path);
            Assert.True(refusedMember.Status == HttpStatusCode.Forbidden, $"{route} as a Member: {(int)refusedMember.Status}");
            Assert.Equal("Not allowed", refusedMember.Heading);
            Assert.Contains("You may not manage invitations in this tenant.", refusedMember.Body);
            var refusedOther = await asOtherOwner.GetAsync(path);
            Assert.True(refusedOther.Status == HttpStatusCode.NotFound, $"{route} as another tenant's Owner: {(int)refusedOther.Status}");
            Assert.Equal("Not found", refusedOther.Heading);
            Assert.Contains("The tenant was not found.", refusedOther.Body);
            var missing = await asPlatformAdmin.GetAsync(path.Replace($"/tenants/{mine.Tenant.Id}/", "/tenants/999999999/", StringComparison.Ordinal));
            Assert.True(missing.Status == HttpStatusCode.NotFound, $"{route} in a tenant that does not exist: {(int)missing.Status}");
            Assert.Contains("The tenant was not found.", missing.Body);
        }
        // Refusals changed nothing.
        Assert.Equal(before, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TenantId == mine.Tenant.Id && a.Action != "platform_admin.read")));
    }

    [Fact]
    public async Task Another_tenants_invitation_webhook_or_import_under_ones_own_tenant_is_404_and_ones_own_is_200()
    {
        var mine = await ResourcesAsync("Mine Co");
        var theirs = await ResourcesAsync("Theirs Co");
        using var owner = await ConsoleSession.OwnerAsync(app, mine.Tenant);
        var crossed = mine with { Invitation = theirs.Invitation, Webhook = theirs.Webhook, Import = theirs.Import };

        foreach (var (route, page) in Pages.Where(p => p.Value.InTenant && Regex.IsMatch(p.Value.Path, "{(invitation|webhook|import)}")))
        {
            var found = await owner.GetAsync(mine.Fill(page.Path));
            Assert.True(found.Status == HttpStatusCode.OK, $"{route}: {(int)found.Status}");
            Assert.Equal(page.ContentType, found.ContentType);
            var notFound = await owner.GetAsync(crossed.Fill(page.Path));
            Assert.True(notFound.Status == HttpStatusCode.NotFound, $"{route} with another tenant's id: {(int)notFound.Status}");
            Assert.Equal("Not found", notFound.Heading);
        }
    }

    [Fact]
    public async Task Every_page_has_a_policy_without_inline_script_is_never_cached_and_never_framed()
    {
        var mine = await ResourcesAsync("Headers Co");
        using var owner = await ConsoleSession.OwnerAsync(app, mine.Tenant);

        foreach (var (route, page) in Pages.Where(p => p.Key != "/console/sign-out"))
        {
            var answer = await owner.GetAsync(mine.Fill(page.Path));
            Assert.True(answer.Status == HttpStatusCode.OK, $"{route}: {(int)answer.Status}");
            Assert.Equal(page.ContentType, answer.ContentType);
            Assert.Equal("DENY", answer.Headers["X-Frame-Options"]);
            var policy = answer.Headers["Content-Security-Policy"];
            var scripts = policy.Split(';').Select(d => d.Trim()).Single(d => d.StartsWith("script-src ", StringComparison.Ordinal));
            Assert.Equal("script-src 'self'", scripts);
            Assert.Contains("frame-ancestors 'none'", policy);
            if (!route.StartsWith("/console/assets/", StringComparison.Ordinal))
            {
                Assert.Equal("no-store", answer.Headers["Cache-Control"]);
            }
            if (page.ContentType == "text/html")
            {
                Assert.DoesNotMatch("<script(?![^>]*\\bsrc=)", answer.Body); // no inline script at all
            }
        }
    }

    [Fact]
    public async Task A_post_without_the_antiforgery_token_is_refused_and_changes_nothing()
    {
        var mine = await ResourcesAsync("Forgery Co");
        using var owner = await ConsoleSession.OwnerAsync(app, mine.Tenant);
        var email = Scenarios.UniqueEmail("forged");
        await owner.GetAsync($"/console/tenants/{mine.Tenant.Id}/invitations");

        var forged = await owner.PostAsync($"/console/tenants/{mine.Tenant.Id}/invitations?handler=Invite", [new("InviteEmail", email)], withToken: false);
        Assert.Equal(HttpStatusCode.BadRequest, forged.Status);
        Assert.Equal(("text/html", "This form has expired"), (forged.ContentType, forged.Heading));
        var revoke = await owner.PostAsync($"/console/tenants/{mine.Tenant.Id}/invitations/{mine.Invitation}?handler=Revoke", [new("confirmed", "true")], withToken: false);
        Assert.Equal(HttpStatusCode.BadRequest, revoke.Status);

        Assert.False(await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AnyAsync(i => i.NormalizedEmail == email)));
        Assert.Equal("Pending", (await app.GetAsync($"/tenant/{mine.Tenant.Id}/admin/user/invitation/{mine.Invitation}", mine.Tenant.OwnerToken))
            .AssertSuccess().GetProperty("status").GetString());
        var invited = await owner.PostAsync($"/console/tenants/{mine.Tenant.Id}/invitations?handler=Invite", [new("InviteEmail", email)]);
        Assert.Equal(HttpStatusCode.Redirect, invited.Status); // the same post with its token goes through
        Assert.True(await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AnyAsync(i => i.NormalizedEmail == email)));
    }

    [Fact]
    public async Task A_bearer_token_opens_no_console_page()
    {
        var mine = await ResourcesAsync("Bearer Co");
        using var client = ConsoleSession.Client(app);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/console/tenants/{mine.Tenant.Id}/invitations");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", mine.Tenant.OwnerToken);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.StartsWith("/console/sign-in?ReturnUrl=", response.Headers.Location?.OriginalString);
    }
}
