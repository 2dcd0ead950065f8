using System.Net;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

// No cooldown and a high daily cap, so racing resends are all allowed by the rules and only the database decides.
public sealed class NoCooldownApp : TestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
        [new("Invitations:ResendCooldown", "00:00:00"), new("Invitations:MaxSendsPerDay", "100")];
}

public sealed class ContentionTests(NoCooldownApp app) : IClassFixture<NoCooldownApp>
{
    [Fact]
    public async Task Racing_resends_never_answer_500_and_every_200_is_one_send_and_one_email()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);

        var responses = await Task.WhenAll(Enumerable.Range(0, 20)
            .Select(_ => Task.Run(() => app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken))));

        foreach (var refused in responses.Where(r => r.Status != HttpStatusCode.OK))
        {
            refused.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
            Assert.NotNull(refused.Headers.RetryAfter);
        }
        var succeeded = responses.Count(r => r.Status == HttpStatusCode.OK);
        Assert.True(succeeded >= 1);
        var stored = await app.QueryAsync(async db => (
            await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.SendCount).SingleAsync(),
            await db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == invitation.Id),
            await db.SupersededTokens.CountAsync(s => s.InvitationId == invitation.Id)));
        Assert.Equal((1 + succeeded, 1 + succeeded, succeeded), stored);
    }

    [Fact]
    public async Task A_revoke_racing_resends_wins_or_is_told_to_retry_and_nothing_is_resent_after_it()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);

        var resends = Enumerable.Range(0, 10).Select(_ => Task.Run(() => app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken))).ToList();
        var revoke = await Task.Run(() => app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={invitation.Id}", tenant.OwnerToken));
        var resent = await Task.WhenAll(resends);

        if (revoke.Status != HttpStatusCode.OK)
        {
            revoke.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
            revoke = await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={invitation.Id}", tenant.OwnerToken);
        }
        Assert.Equal("Revoked", revoke.AssertSuccess()[0].GetProperty("status").GetString());
        foreach (var response in resent.Where(r => r.Status != HttpStatusCode.OK))
        {
            Assert.Contains(response.ErrorCode, new[] { "InvitationNotPending", "RateLimited" });
        }
        var stored = await app.QueryAsync(async db => (
            await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => new { i.Status, i.SendCount }).SingleAsync(),
            await db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitation.Id && a.Action == "invitation.resent")));
        Assert.Equal(TenantInvitations.Invitations.InvitationStatus.Revoked, stored.Item1.Status);
        Assert.Equal(1 + resent.Count(r => r.Status == HttpStatusCode.OK), stored.Item1.SendCount);
        Assert.Equal(stored.Item1.SendCount - 1, stored.Item2);
    }
}
