using System.Net;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Invitations;

namespace TenantInvitations.Tests;

// The HTML page the email links to, through HTTP: what it shows in each state, what GET and HEAD leave alone,
// and that its buttons only work with the antiforgery token of the page they came from.
public sealed partial class AcceptPageTests(TestApp app) : IClassFixture<TestApp>
{
    [Fact]
    public async Task Opening_the_link_shows_the_invitation_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync("Initech <R&D>");
        var invitation = await app.InviteAsync(tenant, "Admin");
        var before = await StateAsync(invitation.Id);

        using var client = app.CreateClient();
        var page = await client.GetAsync($"/accept?token={invitation.Token}");
        var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/accept?token={invitation.Token}"));

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        foreach (var response in new[] { page, head })
        {
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
            Assert.Contains("no-store", response.Headers.CacheControl?.ToString());
            Assert.Contains("form-action 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
        }
        var html = await page.Content.ReadAsStringAsync();
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<html lang=\"en\">", html);
        Assert.Contains("<h1>Join Initech &lt;R&amp;D&gt;</h1>", html);
        Assert.Contains($"<dt>Invited by</dt><dd>{tenant.OwnerEmail}</dd>", html);
        Assert.Contains("<dt>Role</dt><dd>Admin</dd>", html);
        Assert.Contains("<dt>Expires</dt><dd>", html);
        Assert.Contains(">Accept invitation</button>", html);
        Assert.Contains(">Decline</button>", html);
        Assert.DoesNotContain("<script", html);
        // The form posts back to the link it was opened with, so the token is never in the page itself.
        Assert.Contains("<form method=\"post\">", html);
        Assert.DoesNotContain(invitation.Token, html);
        Assert.Equal(before, await StateAsync(invitation.Id));
    }

    [Fact]
    public async Task Accept_button_joins_and_says_what_next()
    {
        var tenant = await app.CreateTenantAsync("Hooli");
        var invitation = await app.InviteAsync(tenant, "Member");
        using var client = app.CreateClient();

        var result = await SubmitAsync(client, invitation.Token, "accept");

        Assert.Equal(HttpStatusCode.OK, result.Status);
        Assert.Contains("<h1>You have joined Hooli</h1>", result.Html);
        Assert.Contains("What next", result.Html);
        Assert.Equal("Accepted", (await StateAsync(invitation.Id)).Status);
        Assert.Equal(1, await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().CountAsync(m => m.TenantId == tenant.Id && m.User.NormalizedEmail == invitation.Email)));

        var again = await client.GetStringAsync($"/accept?token={invitation.Token}");
        Assert.Contains("<h1>This invitation has been accepted</h1>", again);
    }

    [Fact]
    public async Task Decline_button_declines()
    {
        var tenant = await app.CreateTenantAsync("Pied Piper");
        var invitation = await app.InviteAsync(tenant);
        using var client = app.CreateClient();

        var result = await SubmitAsync(client, invitation.Token, "decline");

        Assert.Contains("<h1>Invitation declined</h1>", result.Html);
        Assert.Equal("Declined", (await StateAsync(invitation.Id)).Status);
        Assert.Contains("<h1>This invitation was declined</h1>", await client.GetStringAsync($"/accept?token={invitation.Token}"));
    }

    [Fact]
    public async Task A_post_without_the_pages_antiforgery_token_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var before = await StateAsync(invitation.Id);
        using var client = app.CreateClient();

        var forged = await client.PostAsync("/accept", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = invitation.Token, ["decision"] = "accept" }));
        var json = await client.PostAsync("/accept", new StringContent($"{{\"token\":\"{invitation.Token}\",\"decision\":\"accept\"}}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Contains("<h1>This page has expired</h1>", await forged.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
        Assert.Equal(before, await StateAsync(invitation.Id));
    }

    [Fact]
    public async Task Every_state_has_its_own_page()
    {
        var tenant = await app.CreateTenantAsync("Vandelay");
        using var client = app.CreateClient();

        var revoked = await app.InviteAsync(tenant);
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={revoked.Id}", tenant.OwnerToken)).AssertSuccess();
        await AssertPageAsync(client, revoked.Token, HttpStatusCode.Gone, "<h1>This invitation was withdrawn</h1>");

        var superseded = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        (await app.PutAsync(Scenarios.ResendPath(tenant, superseded.Id), tenant.OwnerToken)).AssertSuccess();
        await AssertPageAsync(client, superseded.Token, HttpStatusCode.Gone, "<h1>A newer invitation was sent</h1>", "Use the link in the latest invitation email.");

        var expired = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromDays(8));
        await AssertPageAsync(client, expired.Token, HttpStatusCode.Gone, "<h1>This invitation has expired</h1>", "Ask your admin");

        await AssertPageAsync(client, new string('x', 43), HttpStatusCode.NotFound, "<h1>This link does not work</h1>");
        await AssertPageAsync(client, "not-a-token", HttpStatusCode.NotFound, "<h1>This link does not work</h1>");
        await AssertPageAsync(client, "", HttpStatusCode.NotFound, "<h1>This link does not work</h1>");
    }

    private static async Task AssertPageAsync(HttpClient client, string token, HttpStatusCode status, params string[] texts)
    {
        var response = await client.GetAsync($"/accept?token={Uri.EscapeDataString(token)}");
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {html}");
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        foreach (var text in texts)
        {
            Assert.Contains(text, html);
        }
        Assert.DoesNotContain("<form", html);
    }

    // Opens the page (keeping its antiforgery cookie) and presses a button, as a browser without JavaScript would:
    // the form has no action, so it posts to the page's own URL.
    private static async Task<(HttpStatusCode Status, string Html)> SubmitAsync(HttpClient client, string token, string decision)
    {
        var page = await client.GetStringAsync($"/accept?token={token}");
        var field = HiddenField().Match(page);
        Assert.True(field.Success, "The page has no antiforgery field.");
        var response = await client.PostAsync($"/accept?token={token}", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["decision"] = decision,
            [field.Groups["name"].Value] = field.Groups["value"].Value,
        }));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [GeneratedRegex("""<input type="hidden" name="(?<name>_antiforgery)" value="(?<value>[^"]+)">""")]
    private static partial Regex HiddenField();

    private Task<(string Status, int Version, int Audits)> StateAsync(long id) => app.QueryAsync(async db =>
    {
        var invitation = await db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Id == id);
        return (invitation.Status.ToString(), invitation.Version, await db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == id));
    });
}

public sealed class SignedInAcceptPageTests(SignedInAcceptPageTests.App app) : IClassFixture<SignedInAcceptPageTests.App>
{
    public sealed class App : TestApp
    {
        protected override IEnumerable<KeyValuePair<string, string>> Settings() => [new("Invitations:RequireSignedInAccept", "true")];
    }

    [Fact]
    public async Task When_accepting_needs_a_sign_in_the_page_offers_only_decline_and_says_where_to_accept()
    {
        var tenant = await app.CreateTenantAsync("Signed Co");
        var invitation = await app.InviteAsync(tenant);
        using var client = app.CreateClient();

        var html = await client.GetStringAsync($"/accept?token={invitation.Token}");

        Assert.DoesNotContain("value=\"accept\"", html);
        Assert.Contains(">Decline</button>", html);
        Assert.Contains("To accept, sign in to Signed Co's application as", html);
        Assert.Equal(InvitationStatus.Pending, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.Status).SingleAsync()));
    }
}
