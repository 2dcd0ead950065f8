using System.Data.Common;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using TenantInvitations.Data;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

namespace TenantInvitations.Tests;

// The public endpoints where the token is the credential: preview, accept and decline.
public sealed class InviteeTests(TestApp app) : IClassFixture<TestApp>
{
    private const string UnknownToken = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    // ---- preview ----

    [Fact]
    public async Task Preview_shows_the_invitation_with_a_masked_email_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync("Initech");
        var email = $"olivia-{Guid.NewGuid():N}@example.test";
        var invitation = await app.InviteAsync(tenant, "Admin", email);
        var expiresAt = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.ExpiresAt).SingleAsync());
        var before = await SnapshotAsync(invitation.Id);

        var response = await app.GetAsync($"/invitation?token={invitation.Token}");

        var preview = response.AssertSuccess();
        Assert.Equal(["email", "expiresAt", "invitedBy", "role", "status", "tenantName"], preview.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal("Initech", preview.GetProperty("tenantName").GetString());
        Assert.Equal("Admin", preview.GetProperty("role").GetString());
        Assert.Equal("o***@example.test", preview.GetProperty("email").GetString());
        Assert.Equal("Pending", preview.GetProperty("status").GetString());
        Assert.Equal(expiresAt, preview.GetProperty("expiresAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        Assert.EndsWith("Z", preview.GetProperty("expiresAt").GetString());
        Assert.Equal(tenant.OwnerEmail, preview.GetProperty("invitedBy").GetString());
        Assert.DoesNotContain(email, response.Body);
        Assert.DoesNotContain(invitation.Token, response.Body);

        (await app.GetAsync($"/invitation?token={invitation.Token}")).AssertSuccess();
        Assert.Equal(before, await SnapshotAsync(invitation.Id));
        // Looking did not use the token up.
        (await app.PostAsync("/invitation/accept", new { token = invitation.Token })).AssertSuccess();
    }

    [Fact]
    public async Task Unknown_well_formed_token_is_404()
    {
        (await app.GetAsync($"/invitation?token={UnknownToken}")).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.PostAsync("/invitation/accept", new { token = UnknownToken })).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.PostAsync("/invitation/decline", new { token = UnknownToken })).AssertError(HttpStatusCode.NotFound, "NotFound");
    }

    [Theory]
    [InlineData("short")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // 44 characters
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+")] // not base64url
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    public async Task Malformed_token_is_400(string token)
    {
        const string problem = "The token must be the 43-character code from the invitation link.";

        var preview = await app.GetAsync($"/invitation?token={Uri.EscapeDataString(token)}");
        Assert.Equal([problem], preview.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        var accept = await app.PostAsync("/invitation/accept", new { token });
        Assert.Equal([problem], accept.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        var decline = await app.PostAsync("/invitation/decline", new { token });
        Assert.Equal([problem], decline.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
    }

    [Fact]
    public async Task Missing_token_is_400()
    {
        const string problem = "The token is required.";

        Assert.Equal([problem], (await app.GetAsync("/invitation")).AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Equal([problem], (await app.GetAsync("/invitation?token=")).AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Equal([problem], (await app.PostAsync("/invitation/accept", new { })).AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Equal([problem], (await app.PostAsync("/invitation/decline", new { token = "" })).AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        (await app.SendAsync(HttpMethod.Post, "/invitation/accept")).AssertError(HttpStatusCode.BadRequest, "ValidationError");
    }

    // ---- accept ----

    [Fact]
    public async Task Accept_without_a_bearer_creates_the_user_and_the_membership()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant, "Admin");
        app.Clock.Advance(TimeSpan.FromSeconds(3));
        var now = app.Clock.GetUtcNow().UtcDateTime;

        var response = await app.PostAsync("/invitation/accept", new { token = invitation.Token });

        var value = response.AssertSuccess();
        Assert.Equal(["role", "tenantId", "userId"], value.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(tenant.Id, value.GetProperty("tenantId").GetInt64());
        Assert.Equal("Admin", value.GetProperty("role").GetString());
        var userId = value.GetProperty("userId").GetInt64();
        var user = await app.QueryAsync(db => db.Users.AsNoTracking().SingleAsync(u => u.Id == userId));
        Assert.Equal((invitation.Email, invitation.Email.ToLowerInvariant(), (string?)null), (user.Email, user.NormalizedEmail, user.Subject));
        var membership = await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().AsNoTracking().SingleAsync(m => m.UserId == userId));
        Assert.Equal((tenant.Id, MemberRole.Admin), (membership.TenantId, membership.Role));
        Assert.Equal(now, membership.JoinedAt, TimeSpan.FromMilliseconds(1));
        var stored = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Id == invitation.Id));
        Assert.Equal((InvitationStatus.Accepted, (long?)userId), (stored.Status, stored.AcceptedUserId));
        Assert.Equal(now, stored.AcceptedAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitation.Id && a.Action == "invitation.accepted")));

        var model = (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation/{invitation.Id}", tenant.OwnerToken)).AssertSuccess();
        Assert.Equal("Accepted", model.GetProperty("status").GetString());
        Assert.Equal(now, model.GetProperty("acceptedAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task Accept_with_a_bearer_for_another_email_is_403_EmailMismatch_and_nothing_changes()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var before = await SnapshotAsync(invitation.Id);
        var stranger = TestApp.Token("sub-stranger", Scenarios.UniqueEmail("stranger"));
        var noEmail = TestApp.Token("sub-no-email", email: null);

        (await app.PostAsync("/invitation/accept", new { token = invitation.Token }, stranger)).AssertError(HttpStatusCode.Forbidden, "EmailMismatch");
        (await app.PostAsync("/invitation/accept", new { token = invitation.Token }, noEmail)).AssertError(HttpStatusCode.Forbidden, "EmailMismatch");

        Assert.Equal(before, await SnapshotAsync(invitation.Id));
        Assert.False(await app.QueryAsync(db => db.Users.AnyAsync(u => u.Subject == "sub-stranger" || u.NormalizedEmail == invitation.Email)));
    }

    [Fact]
    public async Task Accept_with_a_matching_bearer_links_the_callers_subject_whatever_the_case_of_the_email()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var subject = $"sub-{Guid.NewGuid():N}";
        var bearer = TestApp.Token(subject, invitation.Email.ToUpperInvariant());

        var response = await app.PostAsync("/invitation/accept", new { token = invitation.Token }, bearer);

        var userId = response.AssertSuccess().GetProperty("userId").GetInt64();
        var user = await app.QueryAsync(db => db.Users.AsNoTracking().SingleAsync(u => u.Id == userId));
        Assert.Equal((subject, invitation.Email), (user.Subject, user.Email));
        Assert.True(await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().AnyAsync(m => m.TenantId == tenant.Id && m.UserId == userId)));
        // The linked caller is a member right away.
        (await app.GetAsync($"/tenant/{tenant.Id}", bearer)).AssertSuccess();
    }

    [Fact]
    public async Task Someone_who_joined_by_link_is_linked_to_their_sign_in_on_a_later_signed_in_accept()
    {
        var first = await app.CreateTenantAsync();
        var second = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();
        var byLink = await app.InviteAsync(first, email: email);
        var userId = (await app.PostAsync("/invitation/accept", new { token = byLink.Token })).AssertSuccess().GetProperty("userId").GetInt64();
        var signedInToken = await InviteExistingAddressAsync(second, email);
        var subject = $"sub-{Guid.NewGuid():N}";

        var response = await app.PostAsync("/invitation/accept", new { token = signedInToken }, TestApp.Token(subject, email));

        Assert.Equal(userId, response.AssertSuccess().GetProperty("userId").GetInt64());
        Assert.Equal(subject, await app.QueryAsync(db => db.Users.Where(u => u.Id == userId).Select(u => u.Subject).SingleAsync()));
        Assert.Equal(1, await app.QueryAsync(db => db.Users.CountAsync(u => u.NormalizedEmail == email)));
        Assert.Equal(2, await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().CountAsync(m => m.UserId == userId)));
    }

    // Unicode case folding maps look-alikes onto ASCII (the Kelvin sign K lower-cases to k): such a claim must never stand for
    // the real address, and such an address is never invited.
    [Fact]
    public async Task A_look_alike_email_claim_never_matches_a_member_who_joined_by_link_and_is_never_invited()
    {
        var tenant = await app.CreateTenantAsync();
        var local = $"kate{Guid.NewGuid():N}";
        var invitation = await app.InviteAsync(tenant, "Admin", email: $"{local}@example.test");
        (await app.PostAsync("/invitation/accept", new { token = invitation.Token })).AssertSuccess();
        var lookAlike = TestApp.Token($"evil-{Guid.NewGuid():N}", $"\u212A{local[1..]}@example.test");

        var mine = await app.GetAsync("/me/tenants", lookAlike);
        var members = await app.GetAsync($"/tenant/{tenant.Id}/admin/user", lookAlike);
        var invited = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation",
            new { email = $"\u212A{local[1..]}2@example.test", role = "Member" }, tenant.OwnerToken);

        Assert.Equal(0, mine.AssertSuccess().GetArrayLength());
        members.AssertError(HttpStatusCode.Forbidden, "Forbidden");
        Assert.Contains("ASCII", invited.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo.Single());
        Assert.Null(await app.QueryAsync(db => db.Users.Where(u => u.NormalizedEmail == invitation.Email).Select(u => u.Subject).SingleAsync()));
    }

    [Fact]
    public async Task Accept_with_an_invalid_bearer_is_401_and_nothing_changes()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var before = await SnapshotAsync(invitation.Id);
        var wrongKey = TestApp.Token("sub-x", invitation.Email, signingKey: "another-signing-key-that-is-long-enough-too");
        var expired = TestApp.Token("sub-x", invitation.Email, expires: DateTime.UtcNow.AddMinutes(-5));

        foreach (var bearer in new[] { "not-a-jwt", wrongKey, expired })
        {
            var response = await app.PostAsync("/invitation/accept", new { token = invitation.Token }, bearer);
            response.AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
        Assert.Equal(before, await SnapshotAsync(invitation.Id));
    }

    [Fact]
    public async Task Expired_invitation_is_410_InvitationExpired_and_stays_pending()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email, expiresInDays = 1 }, tenant.OwnerToken))
            .AssertSuccess(HttpStatusCode.Created);
        var token = Mailbox.TokenFrom(Assert.Single(await app.Mail.WaitForAsync(email)));
        app.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromSeconds(1));

        (await app.PostAsync("/invitation/accept", new { token })).AssertError(HttpStatusCode.Gone, "InvitationExpired");
        (await app.PostAsync("/invitation/decline", new { token })).AssertError(HttpStatusCode.Gone, "InvitationExpired");
        Assert.Equal("Expired", (await app.GetAsync($"/invitation?token={token}")).AssertSuccess().GetProperty("status").GetString());

        Assert.Equal(InvitationStatus.Pending, await app.QueryAsync(db =>
            db.Invitations.IgnoreQueryFilters().Where(i => i.Email == email).Select(i => i.Status).SingleAsync()));
        Assert.False(await app.QueryAsync(db => db.Users.AnyAsync(u => u.Email == email)));
    }

    [Theory]
    [InlineData("Accepted")]
    [InlineData("Declined")]
    [InlineData("Revoked")]
    public async Task Accepting_or_declining_an_answered_or_revoked_invitation_is_409_naming_its_status(string status)
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var done = status switch
        {
            "Accepted" => await app.PostAsync("/invitation/accept", new { token = invitation.Token }),
            "Declined" => await app.PostAsync("/invitation/decline", new { token = invitation.Token }),
            _ => await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={invitation.Id}", tenant.OwnerToken),
        };
        done.AssertSuccess();
        var before = await SnapshotAsync(invitation.Id);

        var accept = await app.PostAsync("/invitation/accept", new { token = invitation.Token });
        Assert.Equal([$"status: {status}"], accept.AssertError(HttpStatusCode.Conflict, "InvitationNotPending").ErrorInfo);
        var decline = await app.PostAsync("/invitation/decline", new { token = invitation.Token });
        Assert.Equal([$"status: {status}"], decline.AssertError(HttpStatusCode.Conflict, "InvitationNotPending").ErrorInfo);

        Assert.Equal(before, await SnapshotAsync(invitation.Id));
    }

    // ---- decline ----

    [Fact]
    public async Task Decline_is_200_and_the_invitation_is_Declined()
    {
        var tenant = await app.CreateTenantAsync("Umbrella");
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromSeconds(2));
        var now = app.Clock.GetUtcNow().UtcDateTime;

        var response = await app.PostAsync("/invitation/decline", new { token = invitation.Token });

        var value = response.AssertSuccess();
        Assert.Equal("Declined", value.GetProperty("status").GetString());
        Assert.Equal("Umbrella", value.GetProperty("tenantName").GetString());
        var stored = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Id == invitation.Id));
        Assert.Equal(InvitationStatus.Declined, stored.Status);
        Assert.Equal(now, stored.DeclinedAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitation.Id && a.Action == "invitation.declined")));
        Assert.False(await app.QueryAsync(db => db.Users.AnyAsync(u => u.Email == invitation.Email)));
        var model = (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation/{invitation.Id}", tenant.OwnerToken)).AssertSuccess();
        Assert.Equal("Declined", model.GetProperty("status").GetString());
        Assert.Equal(now, model.GetProperty("declinedAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
    }

    // ---- races ----

    [Fact]
    public async Task Twenty_parallel_accepts_of_one_token_give_exactly_one_membership()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);

        var responses = await Task.WhenAll(Enumerable.Range(0, 20)
            .Select(_ => Task.Run(() => app.PostAsync("/invitation/accept", new { token = invitation.Token }))));

        var winner = Assert.Single(responses, r => r.Status == HttpStatusCode.OK);
        var userId = winner.AssertSuccess().GetProperty("userId").GetInt64();
        // Every loser is a whole 409 envelope; which 409 code a loser gets is pinned down by AcceptRaceTests.
        foreach (var loser in responses.Where(r => r != winner))
        {
            Assert.Equal(HttpStatusCode.Conflict, loser.Status);
            loser.AssertError(HttpStatusCode.Conflict, loser.ErrorCode!);
        }
        Assert.Equal(1, await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().CountAsync(m => m.TenantId == tenant.Id && m.UserId == userId)));
        Assert.Equal(1, await app.QueryAsync(db => db.Users.CountAsync(u => u.NormalizedEmail == invitation.Email)));
        Assert.Equal(1, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitation.Id && a.Action == "invitation.accepted")));
    }

    // Scenarios.InviteAsync expects a fresh address; this one invites an address that already has mail and returns the new link's token.
    private async Task<string> InviteExistingAddressAsync(TenantSetup tenant, string email, string role = "Member")
    {
        var earlier = app.Mail.To(email).Select(Mailbox.TokenFrom).ToHashSet();
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email, role }, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created);
        var messages = await app.Mail.WaitForAsync(email, earlier.Count + 1);
        return Assert.Single(messages.Select(Mailbox.TokenFrom), t => !earlier.Contains(t));
    }

    private Task<string> SnapshotAsync(long invitationId) => app.QueryAsync(async db =>
    {
        var i = await db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(x => x.Id == invitationId);
        var audits = await db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitationId);
        var members = await db.Memberships.IgnoreQueryFilters().CountAsync(m => m.TenantId == i.TenantId);
        var users = await db.Users.CountAsync(u => u.NormalizedEmail == i.NormalizedEmail);
        return $"{i.Status} {i.Version} {Convert.ToHexString(i.TokenHash)} {i.AcceptedAt:O} {i.DeclinedAt:O} {i.RevokedAt:O} {audits} {members} {users}";
    });
}

// The same service with Invitations:RequireSignedInAccept=true.
public sealed class SignedInAcceptApp : TestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings() => [new("Invitations:RequireSignedInAccept", "true")];
}

public sealed class SignedInAcceptTests(SignedInAcceptApp app) : IClassFixture<SignedInAcceptApp>
{
    [Fact]
    public async Task Accept_without_a_bearer_is_401_and_nothing_changes()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);

        var response = await app.PostAsync("/invitation/accept", new { token = invitation.Token });

        response.AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(InvitationStatus.Pending, await app.QueryAsync(db =>
            db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.Status).SingleAsync()));
        Assert.False(await app.QueryAsync(db => db.Users.AnyAsync(u => u.NormalizedEmail == invitation.Email)));
    }

    [Fact]
    public async Task Accept_with_a_matching_bearer_works()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant, "Admin");
        (await app.PostAsync("/invitation/accept", new { token = invitation.Token })).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        var subject = $"sub-{Guid.NewGuid():N}";

        var response = await app.PostAsync("/invitation/accept", new { token = invitation.Token }, TestApp.Token(subject, invitation.Email));

        var value = response.AssertSuccess();
        Assert.Equal((tenant.Id, "Admin"), (value.GetProperty("tenantId").GetInt64(), value.GetProperty("role").GetString()));
        var userId = value.GetProperty("userId").GetInt64();
        Assert.Equal(subject, await app.QueryAsync(db => db.Users.Where(u => u.Id == userId).Select(u => u.Subject).SingleAsync()));
        Assert.Equal(MemberRole.Admin, await app.QueryAsync(db =>
            db.Memberships.IgnoreQueryFilters().Where(m => m.TenantId == tenant.Id && m.UserId == userId).Select(m => m.Role).SingleAsync()));
    }

    [Fact]
    public async Task Accept_with_a_bearer_for_another_email_is_still_403_EmailMismatch()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);

        var response = await app.PostAsync("/invitation/accept", new { token = invitation.Token }, TestApp.Token("sub-other", Scenarios.UniqueEmail()));

        response.AssertError(HttpStatusCode.Forbidden, "EmailMismatch");
    }
}

// The same service with a gate on the database: a test can hold one query of a request while another request overtakes it.
public sealed class GatedApp : TestApp
{
    public QueryGate Gate { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => TestDatabase.AddInterceptors(services, Gate));
    }
}

public sealed class QueryGate : DbCommandInterceptor
{
    private string? holdOn;
    private TaskCompletionSource reached = new();
    private TaskCompletionSource release = new();

    // The next query whose SQL contains this text waits until released; the first task completes when it is reached.
    public (Task Reached, Action Release) HoldNextQueryContaining(string sql)
    {
        reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref holdOn, sql);
        return (reached.Task, () => release.TrySetResult());
    }

    public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref holdOn) is { } marker && command.CommandText.Replace("\"", "", StringComparison.Ordinal).Contains(marker, StringComparison.Ordinal)
            && Interlocked.CompareExchange(ref holdOn, null, marker) == marker)
        {
            reached.TrySetResult();
            await release.Task.WaitAsync(cancellationToken);
        }
        return await base.ReaderExecutingAsync(command, eventData, result, cancellationToken);
    }
}

public sealed class AcceptRaceTests(GatedApp app) : IClassFixture<GatedApp>
{
    // The accept that loses a race has read the invitation as Pending, but by the time it looks for the user the winner has committed.
    [Fact]
    public async Task An_accept_overtaken_by_another_is_409_InvitationNotPending()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var (reached, release) = app.Gate.HoldNextQueryContaining("FROM users");

        var overtaken = Task.Run(() => app.PostAsync("/invitation/accept", new { token = invitation.Token }));
        await reached.WaitAsync(TimeSpan.FromSeconds(10));
        var winner = await app.PostAsync("/invitation/accept", new { token = invitation.Token });
        release();

        var userId = winner.AssertSuccess().GetProperty("userId").GetInt64();
        Assert.Equal(["status: Accepted"], (await overtaken).AssertError(HttpStatusCode.Conflict, "InvitationNotPending").ErrorInfo);
        Assert.Equal(1, await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().CountAsync(m => m.TenantId == tenant.Id && m.UserId == userId)));
        Assert.Equal(1, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitation.Id && a.Action == "invitation.accepted")));
    }
}
