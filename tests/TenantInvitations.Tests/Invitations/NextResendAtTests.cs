using System.Net;
using System.Text.Json;

namespace TenantInvitations.Tests;

// nextResendAt on UserInvitationModel says when a resend would next be allowed (cooldown 1 min, 5 sends a day in TestApp):
// a resend just before it is 429 with Retry-After up to it, and at it is 200.
public sealed class NextResendAtTests(TestApp app) : IClassFixture<TestApp>
{
    private DateTime Now => app.Clock.GetUtcNow().UtcDateTime;

    private static string InvitationPath(TenantSetup tenant, long id) => $"/tenant/{tenant.Id}/admin/user/invitation/{id}";

    private async Task<DateTime?> NextResendAtAsync(TenantSetup tenant, long id)
    {
        var value = (await app.GetAsync(InvitationPath(tenant, id), tenant.OwnerToken)).AssertSuccess().GetProperty("nextResendAt");
        return value.ValueKind == JsonValueKind.Null ? null : value.GetDateTime();
    }

    [Fact]
    public async Task A_new_invitation_may_be_resent_after_the_cooldown_and_not_before()
    {
        var tenant = await app.CreateTenantAsync();
        var created = Now;
        var response = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail() }, tenant.OwnerToken);
        var model = response.AssertSuccess(HttpStatusCode.Created)[0];
        var id = model.GetProperty("id").GetInt64();
        Assert.Equal(created.AddMinutes(1), model.GetProperty("nextResendAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        Assert.EndsWith("Z", model.GetProperty("nextResendAt").GetString());
        Assert.Equal(created.AddMinutes(1), (await NextResendAtAsync(tenant, id))!.Value, TimeSpan.FromMilliseconds(1));

        app.Clock.Advance(TimeSpan.FromSeconds(59));
        var early = await app.PutAsync(Scenarios.ResendPath(tenant, id), tenant.OwnerToken);
        early.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        Assert.Equal(TimeSpan.FromSeconds(1), early.Headers.RetryAfter?.Delta);

        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var resent = (await app.PutAsync(Scenarios.ResendPath(tenant, id), tenant.OwnerToken)).AssertSuccess()[0];
        Assert.Equal(Now.AddMinutes(1), resent.GetProperty("nextResendAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task After_the_daily_cap_it_is_when_the_first_send_leaves_the_24_hours()
    {
        var tenant = await app.CreateTenantAsync();
        var firstSend = Now;
        var invitation = await app.InviteAsync(tenant);
        for (var send = 2; send <= 5; send++)
        {
            app.Clock.Advance(TimeSpan.FromMinutes(2));
            (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
        }

        var nextResendAt = await NextResendAtAsync(tenant, invitation.Id);
        Assert.Equal(firstSend.AddDays(1), nextResendAt!.Value, TimeSpan.FromMilliseconds(1));
        // Read from the stored send times (a list SQLite keeps without their kind), still written as UTC.
        Assert.EndsWith("Z", (await app.GetAsync(InvitationPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess().GetProperty("nextResendAt").GetString());
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        var capped = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken);
        capped.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        var wait = TimeSpan.FromSeconds(Math.Ceiling((nextResendAt!.Value - Now).TotalSeconds)); // Retry-After is whole seconds
        Assert.Equal(wait, capped.Headers.RetryAfter?.Delta);

        app.Clock.Advance(wait);
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
    }

    [Fact]
    public async Task An_expired_invitation_may_be_resent_so_it_keeps_a_time()
    {
        var tenant = await app.CreateTenantAsync();
        var sent = Now;
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromDays(8));

        var model = (await app.GetAsync(InvitationPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
        Assert.Equal("Expired", model.GetProperty("status").GetString());
        Assert.Equal(sent.AddMinutes(1), model.GetProperty("nextResendAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
    }

    [Fact]
    public async Task Revoked_and_accepted_invitations_have_none()
    {
        var tenant = await app.CreateTenantAsync();
        var revoked = await app.InviteAsync(tenant);
        var accepted = await app.InviteAsync(tenant);

        var answer = (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={revoked.Id}", tenant.OwnerToken)).AssertSuccess()[0];
        Assert.Equal(JsonValueKind.Null, answer.GetProperty("nextResendAt").ValueKind);
        (await app.PostAsync("/invitation/accept", new { token = accepted.Token })).AssertSuccess();

        Assert.Null(await NextResendAtAsync(tenant, revoked.Id));
        Assert.Null(await NextResendAtAsync(tenant, accepted.Id));
    }
}
