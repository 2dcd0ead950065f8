using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TenantInvitations.Audit;

namespace TenantInvitations.Tests;

// The test server has no socket, so no client address: this app gives every request one, as Kestrel would.
public sealed class ClientAddressApp : TestApp
{
    public const string ClientAddress = "203.0.113.9";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<IStartupFilter>(new FromAddress()));
    }

    private sealed class FromAddress : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((http, nextMiddleware) =>
            {
                http.Connection.RemoteIpAddress = IPAddress.Parse(ClientAddress);
                return nextMiddleware(http);
            });
            next(app);
        };
    }
}

// Every kind of change through the API leaves exactly one audit event per change, with who, what, where, when, which trace
// and from which address; and the trail only ever grows. (TestApp also fails any UPDATE or DELETE of audit_events, suite-wide.)
public sealed class AuditTrailTests(ClientAddressApp app) : IClassFixture<ClientAddressApp>
{
    private sealed record Actor(string? Subject, string? Email, bool IsPlatformAdmin, string? Bearer);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_change_by_an_admin_or_a_platform_admin_is_audited_once_with_actor_target_time_trace_and_address(bool platformAdmin)
    {
        var root = new Actor("platform-root", "root@platform.test", true, app.PlatformAdminToken);
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var (created, createdTrace) = await ChangeAsync(HttpMethod.Post, "/tenant", root, new { name = "Audited", ownerEmail }, HttpStatusCode.Created);
        var tenantId = created.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        var ownerInvitation = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().SingleAsync(i => i.TenantId == tenantId));
        await AssertAuditedAsync(createdTrace, tenantId, root, ("tenant.created", "tenant", tenantId), ("invitation.created", "invitation", ownerInvitation.Id));

        var ownerToken = Mailbox.TokenFrom(Assert.Single(await app.WaitForEmailAsync(ownerEmail)));
        var owner = new Actor($"sub-{ownerEmail}", ownerEmail, false, TestApp.Token($"sub-{ownerEmail}", ownerEmail));
        var (accepted, acceptedTrace) = await ChangeAsync(HttpMethod.Post, "/invitation/accept", owner, new { token = ownerToken });
        await AssertAuditedAsync(acceptedTrace, tenantId, owner, ("invitation.accepted", "invitation", ownerInvitation.Id));
        var tenant = new TenantSetup(tenantId, ownerEmail, owner.Bearer!, accepted.AssertSuccess().GetProperty("userId").GetInt64());
        var admin = platformAdmin ? root : owner;
        var invitations = $"/tenant/{tenantId}/admin/user/invitation";

        var (settings, settingsTrace) = await ChangeAsync(HttpMethod.Put, $"/tenant/{tenantId}/admin/settings", admin, new { displayName = "Audited Inc." });
        settings.AssertSuccess();
        await AssertAuditedAsync(settingsTrace, tenantId, admin, ("settings.updated", "tenant", tenantId));

        var email = Scenarios.UniqueEmail();
        var (invited, invitedTrace) = await ChangeAsync(HttpMethod.Post, invitations, admin, new { email, role = "Admin" }, HttpStatusCode.Created);
        var invitationId = invited.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
        await AssertAuditedAsync(invitedTrace, tenantId, admin, ("invitation.created", "invitation", invitationId));
        await app.WaitForEmailAsync(email); // sent before the resend, which would otherwise cancel it

        app.Clock.Advance(TimeSpan.FromMinutes(2));
        var (resent, resentTrace) = await ChangeAsync(HttpMethod.Put, Scenarios.ResendPath(tenant, invitationId), admin);
        resent.AssertSuccess();
        await AssertAuditedAsync(resentTrace, tenantId, admin, ("invitation.resent", "invitation", invitationId));

        // The person invited accepts with the latest link, signed in.
        var inviteeToken = Mailbox.TokenFrom((await app.WaitForEmailAsync(email, 2)).Last());
        var invitee = new Actor($"sub-{email}", email, false, TestApp.Token($"sub-{email}", email));
        var (joined, joinedTrace) = await ChangeAsync(HttpMethod.Post, "/invitation/accept", invitee, new { token = inviteeToken });
        var memberId = joined.AssertSuccess().GetProperty("userId").GetInt64();
        await AssertAuditedAsync(joinedTrace, tenantId, invitee, ("invitation.accepted", "invitation", invitationId));

        var (role, roleTrace) = await ChangeAsync(HttpMethod.Put, $"/tenant/{tenantId}/admin/user/role?id={memberId}", admin, new { role = "Member" });
        role.AssertSuccess();
        await AssertAuditedAsync(roleTrace, tenantId, admin, ("member.role_changed", "member", memberId));

        var (removed, removedTrace) = await ChangeAsync(HttpMethod.Delete, $"/tenant/{tenantId}/admin/user?id={memberId}", admin);
        removed.AssertSuccess();
        await AssertAuditedAsync(removedTrace, tenantId, admin, ("member.removed", "member", memberId));

        var toRevoke = await app.InviteAsync(tenant);
        var (revoked, revokedTrace) = await ChangeAsync(HttpMethod.Put, $"{invitations}/revoke?id={toRevoke.Id}", admin);
        revoked.AssertSuccess();
        await AssertAuditedAsync(revokedTrace, tenantId, admin, ("invitation.revoked", "invitation", toRevoke.Id));

        // Declined without signing in: the actor is the mailbox the link went to.
        var toDecline = await app.InviteAsync(tenant);
        var (declined, declinedTrace) = await ChangeAsync(HttpMethod.Post, "/invitation/decline", new Actor(null, null, false, null), new { token = toDecline.Token });
        declined.AssertSuccess();
        await AssertAuditedAsync(declinedTrace, tenantId, new Actor(null, toDecline.Email, false, null), ("invitation.declined", "invitation", toDecline.Id));

        // Joined by link without signing in, then the first sign-in with that email is linked to the user.
        var byLink = await app.InviteAsync(tenant);
        var (linkJoined, linkJoinedTrace) = await ChangeAsync(HttpMethod.Post, "/invitation/accept", new Actor(null, null, false, null), new { token = byLink.Token });
        var byLinkUserId = linkJoined.AssertSuccess().GetProperty("userId").GetInt64();
        await AssertAuditedAsync(linkJoinedTrace, tenantId, new Actor(null, byLink.Email, false, null), ("invitation.accepted", "invitation", byLink.Id));
        var signedIn = new Actor($"sub-{byLink.Email}", byLink.Email, false, TestApp.Token($"sub-{byLink.Email}", byLink.Email));
        var (mine, mineTrace) = await ChangeAsync(HttpMethod.Get, "/me/tenants", signedIn);
        mine.AssertSuccess();
        await AssertAuditedAsync(mineTrace, tenantId, signedIn, ("user.linked", "member", byLinkUserId));

        // The audit endpoint shows each event as stored.
        var listed = (await app.GetAsync($"/tenant/{tenantId}/admin/audit?limit=100", owner.Bearer)).AssertSuccess().EnumerateArray().ToArray();
        var stored = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().Where(a => a.TenantId == tenantId)
            .OrderByDescending(a => a.OccurredAt).ThenByDescending(a => a.Id).ToListAsync());
        Assert.Equal(stored.Select(a => (a.Id, a.Action, a.TraceId, a.ClientAddress, a.ActorSubject, a.ActorEmail, a.ActorIsPlatformAdmin)),
            listed.Select(e => (e.GetProperty("id").GetInt64(), e.GetProperty("action").GetString()!, e.GetProperty("traceId").GetString(),
                e.GetProperty("clientAddress").GetString(), e.GetProperty("actor").GetProperty("subject").GetString(),
                e.GetProperty("actor").GetProperty("email").GetString(), e.GetProperty("actor").GetProperty("isPlatformAdmin").GetBoolean())));
    }

    [Fact]
    public async Task The_audit_trail_only_grows_through_a_long_flow()
    {
        var tenant = await app.CreateTenantAsync();
        var seen = new List<string>();
        async Task StepAsync(Func<Task> step)
        {
            await step();
            var now = await RowsAsync(tenant.Id);
            Assert.True(now.Count > seen.Count, $"The step added no audit event ({now.Count} rows).");
            Assert.Superset(seen.ToHashSet(), now.ToHashSet()); // every earlier row is still there, unchanged
            seen = now;
        }

        var invitations = new List<InvitationSetup>();
        for (var i = 0; i < 3; i++)
        {
            await StepAsync(async () => invitations.Add(await app.InviteAsync(tenant, "Admin")));
        }
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        await StepAsync(async () => (await app.PutAsync(Scenarios.ResendPath(tenant, invitations[0].Id), tenant.OwnerToken)).AssertSuccess());
        await StepAsync(async () => (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={invitations[1].Id}", tenant.OwnerToken)).AssertSuccess());
        var member = TestApp.Token($"sub-{invitations[2].Email}", invitations[2].Email);
        var memberId = 0L;
        await StepAsync(async () => memberId = (await app.PostAsync("/invitation/accept", new { token = invitations[2].Token }, member)).AssertSuccess().GetProperty("userId").GetInt64());
        await StepAsync(async () => (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/role?id={memberId}", tenant.OwnerToken, new { role = "Member" })).AssertSuccess());
        await StepAsync(async () => (await app.PutAsync($"/tenant/{tenant.Id}/admin/settings", tenant.OwnerToken, new { displayName = "Grown" })).AssertSuccess());
        await StepAsync(async () => (await app.GetAsync($"/tenant/{tenant.Id}/admin/audit", app.PlatformAdminToken)).AssertSuccess());
        await StepAsync(async () => (await app.DeleteAsync($"/tenant/{tenant.Id}/admin/user?id={memberId}", tenant.OwnerToken)).AssertSuccess());
        Assert.Empty(app.Commands.Violations);
    }

    private async Task<(ApiResponse Response, string TraceId)> ChangeAsync(HttpMethod method, string path, Actor actor, object? body = null,
        HttpStatusCode expected = HttpStatusCode.OK)
    {
        var (traceId, headers) = TestApp.Traced();
        var response = await app.SendAsync(method, path, actor.Bearer, body, headers: headers);
        Assert.True(response.Status == expected, $"{method} {path}: {(int)response.Status} {response.Body}");
        return (response, traceId);
    }

    // The request with this trace made exactly these audit events, each with every field right.
    private async Task AssertAuditedAsync(string traceId, long tenantId, Actor actor, params (string Action, string TargetType, long TargetId)[] expected)
    {
        var now = app.Clock.GetUtcNow().UtcDateTime;
        var events = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().Where(a => a.TraceId == traceId).OrderBy(a => a.Id).ToListAsync());
        Assert.Equal(expected.Select(e => e.Action), events.Select(e => e.Action));
        foreach (var (audit, (action, targetType, targetId)) in events.Zip(expected))
        {
            Assert.Equal((action, targetType, targetId, tenantId), (audit.Action, audit.TargetType, audit.TargetId, audit.TenantId));
            Assert.Equal((actor.Subject, actor.Email, actor.IsPlatformAdmin), (audit.ActorSubject, audit.ActorEmail, audit.ActorIsPlatformAdmin));
            Assert.Equal(now, audit.OccurredAt, TimeSpan.FromMilliseconds(1));
            Assert.Equal(traceId, audit.TraceId);
            Assert.Equal(ClientAddressApp.ClientAddress, audit.ClientAddress);
        }
    }

    // Every column of every audit row of the tenant.
    private Task<List<string>> RowsAsync(long tenantId) => app.QueryAsync(async db =>
        (await db.AuditEvents.IgnoreQueryFilters().AsNoTracking().Where(a => a.TenantId == tenantId).ToListAsync())
        .Select(Describe).ToList());

    private static string Describe(AuditEvent a) =>
        $"{a.Id} {a.TenantId} {a.Action} {a.TargetType} {a.TargetId} {a.ActorSubject} {a.ActorEmail} {a.ActorIsPlatformAdmin} {a.OccurredAt:O} {a.TraceId} {a.ClientAddress} {a.Details}";
}
