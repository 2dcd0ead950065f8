using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Email;

namespace TenantInvitations.Tests;

public sealed class ResendInvitationTests(TestApp app) : IClassFixture<TestApp>
{
    [Theory]
    [InlineData("?id=abc")]
    [InlineData("?id=")]
    [InlineData("")]
    [InlineData("?id=0")]
    [InlineData("?id=-7")]
    [InlineData("?id=9223372036854775808")]
    [InlineData("?id=1.5")]
    [InlineData("?id=%00")]
    public async Task Rule1_malformed_id_is_400_even_before_authentication(string query)
    {
        var withoutToken = await app.PutAsync($"/tenant/1/admin/user/invitation/resend{query}");
        var info = withoutToken.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo;
        Assert.Single(info);
        Assert.Contains("id", info[0]);
        Assert.DoesNotContain("9223372036854775808", info[0]);

        var withToken = await app.PutAsync($"/tenant/1/admin/user/invitation/resend{query}", app.PlatformAdminToken);
        Assert.Equal(withoutToken.Body, withToken.Body);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("99999999999999999999")]
    public async Task Rule1_malformed_tenant_id_is_400(string tenantId)
    {
        var response = await app.PutAsync($"/tenant/{tenantId}/admin/user/invitation/resend?id=1", app.PlatformAdminToken);
        Assert.Contains("tenantId", response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo.Single());
    }

    [Fact]
    public async Task Rule1_lists_every_problem()
    {
        var response = await app.PutAsync("/tenant/0/admin/user/invitation/resend?id=0");
        Assert.Equal(2, response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo.Length);
    }

    [Fact]
    public async Task Rule2_missing_or_invalid_bearer_is_401()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);

        var missing = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id));
        missing.AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);

        var wrongKey = TestApp.Token("x", tenant.OwnerEmail, signingKey: "another-signing-key-that-is-long-enough-too");
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), wrongKey)).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), "not-a-jwt")).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        var expired = TestApp.Token(tenant.OwnerEmail, tenant.OwnerEmail, expires: DateTime.UtcNow.AddMinutes(-5));
        var expiredResponse = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), expired);
        Assert.Contains("expired", expiredResponse.AssertError(HttpStatusCode.Unauthorized, "Unauthorized").ErrorInfo.Single());
    }

    [Fact]
    public async Task Rule2_member_and_outsider_are_403_and_nothing_changes()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var member = await app.AddMemberAsync(tenant, "Member");
        var outsider = await app.CreateTenantAsync();
        app.Clock.Advance(TimeSpan.FromMinutes(2));

        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), member.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), outsider.OwnerToken)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        Assert.Equal(1, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.SendCount).SingleAsync()));
    }

    [Fact]
    public async Task Rule3_unknown_id_and_other_tenants_id_are_404_and_nothing_changes()
    {
        var tenantA = await app.CreateTenantAsync();
        var tenantB = await app.CreateTenantAsync();
        var invitationOfA = await app.InviteAsync(tenantA);
        app.Clock.Advance(TimeSpan.FromMinutes(2));

        (await app.PutAsync(Scenarios.ResendPath(tenantB, invitationOfA.Id), tenantB.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.PutAsync(Scenarios.ResendPath(tenantB, 987654321), tenantB.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        // A platform admin is scoped by the path too.
        (await app.PutAsync(Scenarios.ResendPath(tenantB, invitationOfA.Id), app.PlatformAdminToken)).AssertError(HttpStatusCode.NotFound, "NotFound");

        Assert.Equal(1, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitationOfA.Id).Select(i => i.SendCount).SingleAsync()));
        Assert.Single(app.Mail.To(invitationOfA.Email));
    }

    [Theory]
    [InlineData("Revoked")]
    [InlineData("Accepted")]
    [InlineData("Declined")]
    public async Task Rule4_answered_or_revoked_invitation_is_409_naming_its_status(string status)
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var done = status switch
        {
            "Revoked" => await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={invitation.Id}", tenant.OwnerToken),
            "Accepted" => await app.PostAsync("/invitation/accept", new { token = invitation.Token }),
            _ => await app.PostAsync("/invitation/decline", new { token = invitation.Token }),
        };
        done.AssertSuccess();
        app.Clock.Advance(TimeSpan.FromMinutes(2));

        var response = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken);
        Assert.Equal([$"status: {status}"], response.AssertError(HttpStatusCode.Conflict, "InvitationNotPending").ErrorInfo);
        Assert.Single(app.Mail.To(invitation.Email));
    }

    [Fact]
    public async Task Rule4_expired_invitation_can_be_resent_and_is_pending_again()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromDays(8));
        var listed = await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation/{invitation.Id}", tenant.OwnerToken);
        Assert.Equal("Expired", listed.AssertSuccess().GetProperty("status").GetString());

        var response = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken);
        var model = response.AssertSuccess()[0];
        Assert.Equal("Pending", model.GetProperty("status").GetString());
        Assert.Equal(app.Clock.GetUtcNow().UtcDateTime.AddDays(7), model.GetProperty("expiresAt").GetDateTime(), TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Rule5_within_the_cooldown_is_429_with_retry_after()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromSeconds(20));

        var response = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken);
        response.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        Assert.Equal(TimeSpan.FromSeconds(40), response.Headers.RetryAfter?.Delta);
        Assert.Equal(["Retry after 40 seconds."], response.ErrorInfo);

        app.Clock.Advance(TimeSpan.FromSeconds(40));
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
    }

    [Fact]
    public async Task Rule5_five_sends_in_24_hours_is_the_cap_and_it_slides()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        for (var send = 2; send <= 5; send++)
        {
            app.Clock.Advance(TimeSpan.FromSeconds(61));
            var ok = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken);
            Assert.Equal(send, ok.AssertSuccess()[0].GetProperty("sendCount").GetInt32());
        }
        app.Clock.Advance(TimeSpan.FromSeconds(61));
        var capped = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken);
        capped.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        // The first send leaves the 24-hour window 24 h after it happened: 5 × 61 s ago.
        Assert.Equal(TimeSpan.FromDays(1) - TimeSpan.FromSeconds(5 * 61), capped.Headers.RetryAfter?.Delta);

        app.Clock.Advance(TimeSpan.FromDays(1) - TimeSpan.FromSeconds(5 * 61));
        Assert.Equal(6, (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess()[0].GetProperty("sendCount").GetInt32());
    }

    [Fact]
    public async Task Rule6_resend_replaces_the_token_queues_one_email_and_audits_once()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(5));
        var now = app.Clock.GetUtcNow().UtcDateTime;

        var response = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken);
        var model = Assert.Single(response.AssertSuccess().EnumerateArray());
        Assert.Equal(invitation.Id, model.GetProperty("id").GetInt64());
        Assert.Equal(tenant.Id, model.GetProperty("tenantId").GetInt64());
        Assert.Equal(invitation.Email, model.GetProperty("email").GetString());
        Assert.Equal("Member", model.GetProperty("role").GetString());
        Assert.Equal("Pending", model.GetProperty("status").GetString());
        Assert.Equal(2, model.GetProperty("sendCount").GetInt32());
        Assert.Equal(now, model.GetProperty("lastSentAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(now.AddDays(7), model.GetProperty("expiresAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        Assert.EndsWith("Z", model.GetProperty("lastSentAt").GetString());
        Assert.Equal(tenant.OwnerEmail, model.GetProperty("invitedBy").GetString());
        Assert.Equal("Queued", model.GetProperty("delivery").GetProperty("status").GetString());
        Assert.DoesNotContain(invitation.Token, response.Body);

        var emails = await app.Mail.WaitForAsync(invitation.Email, 2);
        var newToken = Mailbox.TokenFrom(emails[1]);
        Assert.NotEqual(invitation.Token, newToken);
        Assert.Equal(43, newToken.Length); // 256 random bits, base64url

        var stored = await app.QueryAsync(async db => new
        {
            Hash = await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.TokenHash).SingleAsync(),
            Superseded = await db.SupersededTokens.Where(s => s.InvitationId == invitation.Id).Select(s => s.Hash).ToListAsync(),
            Outbox = await db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == invitation.Id),
            Audits = await db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitation.Id && a.Action == "invitation.resent"),
        });
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(newToken)), stored.Hash);
        Assert.Equal([SHA256.HashData(Encoding.ASCII.GetBytes(invitation.Token))], stored.Superseded);
        Assert.Equal(2, stored.Outbox);
        Assert.Equal(1, stored.Audits);
    }

    [Fact]
    public async Task Rule6_old_token_answers_superseded_and_the_new_one_works()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
        var newToken = Mailbox.TokenFrom((await app.Mail.WaitForAsync(invitation.Email, 2))[1]);

        (await app.GetAsync($"/invitation?token={invitation.Token}")).AssertError(HttpStatusCode.Gone, "InvitationSuperseded");
        (await app.PostAsync("/invitation/accept", new { token = invitation.Token })).AssertError(HttpStatusCode.Gone, "InvitationSuperseded");
        (await app.PostAsync("/invitation/decline", new { token = invitation.Token })).AssertError(HttpStatusCode.Gone, "InvitationSuperseded");
        (await app.PostAsync("/invitation/accept", new { token = newToken })).AssertSuccess();
        // Still superseded after the invitation was accepted with the newer link.
        (await app.GetAsync($"/invitation?token={invitation.Token}")).AssertError(HttpStatusCode.Gone, "InvitationSuperseded");
    }

    [Fact]
    public async Task Rule6_email_of_a_resend_is_sent_and_recorded_on_the_invitation()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
        await app.Mail.WaitForAsync(invitation.Email, 2);

        var delivery = await Eventually.ValueAsync(async () =>
        {
            var model = (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation/{invitation.Id}", tenant.OwnerToken)).AssertSuccess();
            return model.GetProperty("delivery");
        }, d => d.GetProperty("status").GetString() == "Sent");
        Assert.Equal(1, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal(JsonValueKindNull, delivery.GetProperty("lastError").ValueKind);
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    [Fact]
    public async Task Rule7_request_aborted_before_commit_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        // The dispatcher records its send in a commit of its own; once nothing is queued, the next commit is this request's.
        await DatabaseSnapshot.SettledAsync(app);
        var before = await Snapshot(invitation.Id);

        using var abort = new CancellationTokenSource();
        var commitReached = app.Faults.HoldNextCommit();
        var request = app.SendAsync(HttpMethod.Put, Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken, cancellationToken: abort.Token);
        await commitReached.WaitAsync(TimeSpan.FromSeconds(10));
        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);

        await Task.Delay(200);
        Assert.Equal(before, await Snapshot(invitation.Id));
        Assert.Single(app.Mail.To(invitation.Email));
        // And the invitation can still be resent normally.
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
    }

    [Fact]
    public async Task Twenty_parallel_resends_give_one_200_and_one_email_and_the_rest_429()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(2));

        var responses = await Task.WhenAll(Enumerable.Range(0, 20)
            .Select(_ => Task.Run(() => app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken))));

        Assert.Single(responses, r => r.Status == HttpStatusCode.OK);
        foreach (var refused in responses.Where(r => r.Status != HttpStatusCode.OK))
        {
            refused.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        }
        await app.Mail.WaitForAsync(invitation.Email, 2);
        await Task.Delay(300);
        Assert.Equal(2, app.Mail.To(invitation.Email).Length);
        Assert.Equal(2, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.SendCount).SingleAsync()));
        Assert.Equal(2, await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == invitation.Id)));
    }

    [Fact]
    public async Task Seed_example_path_is_the_same_handler()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        (await app.PutAsync($"/api/tenant/{tenant.Id}/invitations/resend?id={invitation.Id}", tenant.OwnerToken))
            .AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        (await app.PutAsync($"/api/tenant/{tenant.Id}/invitations/resend?id=abc", tenant.OwnerToken))
            .AssertError(HttpStatusCode.BadRequest, "ValidationError");
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        var ok = await app.PutAsync($"/api/tenant/{tenant.Id}/invitations/resend?id={invitation.Id}", tenant.OwnerToken);
        Assert.Equal(2, ok.AssertSuccess()[0].GetProperty("sendCount").GetInt32());
    }

    [Fact]
    public async Task Platform_admin_may_resend_in_any_tenant_and_it_is_audited_as_such()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), app.PlatformAdminToken)).AssertSuccess();
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().SingleAsync(a => a.TargetId == invitation.Id && a.Action == "invitation.resent"));
        Assert.True(audit.ActorIsPlatformAdmin);
        Assert.Equal("platform-root", audit.ActorSubject);
    }

    private Task<string> Snapshot(long invitationId) => app.QueryAsync(async db =>
    {
        var i = await db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(x => x.Id == invitationId);
        var outbox = await db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == invitationId);
        var audits = await db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitationId);
        var superseded = await db.SupersededTokens.CountAsync(s => s.InvitationId == invitationId);
        return $"{Convert.ToHexString(i.TokenHash)} {i.SendCount} {i.ExpiresAt:O} {i.LastSentAt:O} {i.Version} {outbox} {audits} {superseded} {i.DeliveryOutboxId}";
    });
}
