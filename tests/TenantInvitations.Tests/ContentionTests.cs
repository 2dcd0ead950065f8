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

    // Ten invitations, each accepted and revoked at the same moment: per invitation exactly one of the two wins, and the
    // loser is 409 InvitationNotPending, never a 500. A revoked invitation never made a member.
    [Fact]
    public async Task An_accept_racing_a_revoke_lets_exactly_one_win()
    {
        var tenant = await app.CreateTenantAsync();
        var invitations = new List<InvitationSetup>();
        for (var i = 0; i < 10; i++)
        {
            invitations.Add(await app.InviteAsync(tenant));
        }

        var outcomes = await Task.WhenAll(invitations.Select(async invitation =>
        {
            var accept = Task.Run(() => app.PostAsync("/invitation/accept", new { token = invitation.Token }));
            var revoke = Task.Run(() => app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={invitation.Id}", tenant.OwnerToken));
            return (Invitation: invitation, Accept: await accept, Revoke: await revoke);
        }));

        foreach (var (invitation, accept, revoke) in outcomes)
        {
            var stored = await app.QueryAsync(async db => (
                await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.Status).SingleAsync(),
                await db.Memberships.IgnoreQueryFilters().CountAsync(m => m.TenantId == tenant.Id && m.User.NormalizedEmail == invitation.Email)));
            Assert.False(accept.Status == HttpStatusCode.OK && revoke.Status == HttpStatusCode.OK, $"both won: {accept.Body} {revoke.Body}");
            // One version change per race, so the loser's first retry already sees the winner's state: always 409, never 429.
            var loser = accept.Status == HttpStatusCode.OK ? revoke : accept;
            loser.AssertError(HttpStatusCode.Conflict, "InvitationNotPending");
            if (accept.Status == HttpStatusCode.OK)
            {
                Assert.Equal((TenantInvitations.Invitations.InvitationStatus.Accepted, 1), stored);
            }
            else if (revoke.Status == HttpStatusCode.OK)
            {
                Assert.Equal((TenantInvitations.Invitations.InvitationStatus.Revoked, 0), stored);
            }
            else
            {
                Assert.Fail($"neither won: {accept.Body} {revoke.Body}"); // one of them must have got through first
            }
        }
    }

    // The quota is checked and the email queued in one transaction under the tenant's lock, so racing creates and resends
    // can't together pass it: with 6 emails left, exactly 6 of 36 get through and every other one is a whole 429.
    [Fact]
    public async Task Racing_creates_and_resends_stop_exactly_at_the_hourly_email_quota()
    {
        var tenant = await app.CreateTenantAsync(); // its Owner invitation is email 1 of the hour
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/settings", tenant.OwnerToken, new { emailsPerHour = 10 })).AssertSuccess();
        var invitations = new List<InvitationSetup>();
        for (var i = 0; i < 3; i++)
        {
            invitations.Add(await app.InviteAsync(tenant)); // emails 2 to 4
        }

        var requests = new List<Task<ApiResponse>>();
        for (var i = 0; i < 30; i++)
        {
            requests.Add(Task.Run(() => app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail() }, tenant.OwnerToken)));
            if (i % 5 == 0)
            {
                var invitation = invitations[i / 5 % invitations.Count];
                requests.Add(Task.Run(() => app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)));
            }
        }
        var responses = await Task.WhenAll(requests);

        var created = responses.Where(r => r.Status == HttpStatusCode.Created).ToList();
        var resent = responses.Where(r => r.Status == HttpStatusCode.OK).ToList();
        created.ForEach(r => r.AssertSuccess(HttpStatusCode.Created));
        resent.ForEach(r => r.AssertSuccess());
        Assert.Equal(6, created.Count + resent.Count);
        foreach (var refused in responses.Except(created).Except(resent))
        {
            refused.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
            var wait = refused.Headers.RetryAfter?.Delta;
            Assert.NotNull(wait);
            Assert.Equal([$"Retry after {(long)wait.Value.TotalSeconds} seconds."], refused.ErrorInfo);
        }
        var stored = await app.QueryAsync(async db => (
            await db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.TenantId == tenant.Id),
            await db.Invitations.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id),
            await db.Invitations.IgnoreQueryFilters().Where(i => i.TenantId == tenant.Id).SumAsync(i => i.SendCount)));
        Assert.Equal((10, 4 + created.Count, 10), stored);
    }

    // Two Owners demote each other at the same moment, ten times over: the database lets exactly one through each time,
    // the other is 409 LastOwner, and the tenant always keeps exactly one Owner. On PostgreSQL this needs the tenant row lock:
    // the two updates touch different rows, so without it both would see two Owners and both succeed.
    [Fact]
    public async Task Two_owners_demoting_each_other_at_once_leave_exactly_one_owner()
    {
        for (var round = 0; round < 10; round++)
        {
            var tenant = await app.CreateTenantAsync();
            var other = await app.AddMemberAsync(tenant, "Owner");

            var first = Task.Run(() => app.PutAsync($"/tenant/{tenant.Id}/admin/user/role?id={other.UserId}", tenant.OwnerToken, new { role = "Member" }));
            var second = Task.Run(() => app.PutAsync($"/tenant/{tenant.Id}/admin/user/role?id={tenant.OwnerUserId}", other.Token, new { role = "Member" }));
            var responses = await Task.WhenAll(first, second);

            var winner = Assert.Single(responses, r => r.Status == HttpStatusCode.OK);
            var loser = Assert.Single(responses, r => r != winner);
            if (loser.Status == HttpStatusCode.Forbidden)
            {
                loser.AssertError(HttpStatusCode.Forbidden, "Forbidden"); // the loser's caller was demoted first and may no longer change an Owner
            }
            else
            {
                loser.AssertError(HttpStatusCode.Conflict, "LastOwner");
            }
            var owners = await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters()
                .CountAsync(m => m.TenantId == tenant.Id && m.Role == TenantInvitations.Members.MemberRole.Owner));
            Assert.Equal(1, owners);
        }
    }

    // Two Owners remove each other at the same moment: one removal wins, the tenant keeps an Owner.
    [Fact]
    public async Task Two_owners_removing_each_other_at_once_leave_exactly_one_owner()
    {
        for (var round = 0; round < 10; round++)
        {
            var tenant = await app.CreateTenantAsync();
            var other = await app.AddMemberAsync(tenant, "Owner");

            var first = Task.Run(() => app.DeleteAsync($"/tenant/{tenant.Id}/admin/user?id={other.UserId}", tenant.OwnerToken));
            var second = Task.Run(() => app.DeleteAsync($"/tenant/{tenant.Id}/admin/user?id={tenant.OwnerUserId}", other.Token));
            var responses = await Task.WhenAll(first, second);

            var winner = Assert.Single(responses, r => r.Status == HttpStatusCode.OK);
            var loser = Assert.Single(responses, r => r != winner);
            Assert.Contains(loser.Status, new[] { HttpStatusCode.Conflict, HttpStatusCode.Forbidden });
            loser.AssertError(loser.Status, loser.Status == HttpStatusCode.Conflict ? "LastOwner" : "Forbidden");
            var members = await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().Where(m => m.TenantId == tenant.Id)
                .Select(m => m.Role).ToListAsync());
            Assert.Equal([TenantInvitations.Members.MemberRole.Owner], members);
        }
    }
}
