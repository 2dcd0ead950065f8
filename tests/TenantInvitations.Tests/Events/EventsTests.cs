using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

public sealed class EventsTestApp : TestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings() => [new("Events:ExpirySweep", "00:00:00.200")];
}

// Every change of API.md's event table writes its event in its own transaction; the feed pages through them in order.
public sealed class EventsTests(EventsTestApp app) : IClassFixture<EventsTestApp>
{
    private static readonly string[] RequestTypes =
    [
        "tenant.created", "invitation.created", "invitation.accepted", "member.added", "invitation.created", "invitation.resent",
        "invitation.revoked", "invitation.created", "invitation.declined", "invitation.created", "invitation.accepted", "member.added",
        "member.role_changed", "member.removed", "tenant.settings_changed",
    ];

    [Fact]
    public async Task Every_change_writes_one_event_with_the_model_after_it_in_the_order_of_the_changes()
    {
        var admin = app.PlatformAdminToken;
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var createdTenant = (await app.PostAsync("/tenant", new { name = "Evented", ownerEmail }, admin)).AssertSuccess(HttpStatusCode.Created);
        var tenantId = createdTenant.GetProperty("id").GetInt64();
        var ownerToken = TestApp.Token($"sub-{ownerEmail}", ownerEmail);
        var ownerInvitation = Assert.Single(await app.WaitForEmailAsync(ownerEmail));
        var ownerUserId = (await app.PostAsync("/invitation/accept", new { token = Mailbox.TokenFrom(ownerInvitation) }, ownerToken))
            .AssertSuccess().GetProperty("userId").GetInt64();
        var tenant = new TenantSetup(tenantId, ownerEmail, ownerToken, ownerUserId);
        var ownerInvitationModel = (await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation?email={Uri.EscapeDataString(ownerEmail)}", ownerToken))
            .AssertSuccess()[0];

        var a = Scenarios.UniqueEmail("a");
        var created = (await app.PostAsync($"/tenant/{tenantId}/admin/user/invitation", new { email = a }, ownerToken)).AssertSuccess(HttpStatusCode.Created)[0];
        var aId = created.GetProperty("id").GetInt64();
        await app.WaitForEmailAsync(a);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        var resent = (await app.PutAsync(Scenarios.ResendPath(tenant, aId), ownerToken)).AssertSuccess()[0];
        await app.WaitForEmailAsync(a, 2);
        var revoked = (await app.PutAsync($"/tenant/{tenantId}/admin/user/invitation/revoke?id={aId}", ownerToken)).AssertSuccess()[0];
        var b = await app.InviteAsync(tenant);
        (await app.PostAsync("/invitation/decline", new { token = b.Token })).AssertSuccess();
        var declined = (await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation/{b.Id}", ownerToken)).AssertSuccess();
        var c = await app.InviteAsync(tenant, "Admin");
        var joined = (await app.PostAsync("/invitation/accept", new { token = c.Token })).AssertSuccess();
        var cUserId = joined.GetProperty("userId").GetInt64();
        var accepted = (await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation/{c.Id}", ownerToken)).AssertSuccess();
        var promoted = (await app.PutAsync($"/tenant/{tenantId}/admin/user/role?id={cUserId}", ownerToken, new { role = "Member" })).AssertSuccess();
        var removed = (await app.DeleteAsync($"/tenant/{tenantId}/admin/user?id={cUserId}", ownerToken)).AssertSuccess();
        var settings = (await app.PutAsync($"/tenant/{tenantId}/admin/settings", ownerToken, new { displayName = "Evented Inc." })).AssertSuccess();

        var (events, _) = await app.ReadToEndAsync($"/tenant/{tenantId}/admin/events", ownerToken);
        var changes = events.Where(e => !e.Type.StartsWith("invitation.deliver", StringComparison.Ordinal)).ToList();
        Assert.Equal(RequestTypes, changes.Select(e => e.Type));
        Assert.Equal(events.Count, events.Select(e => e.Id).Distinct().Count());
        Assert.All(events, e => Assert.Equal(tenantId, e.TenantId));

        var root = new FeedActor("platform-root", "root@platform.test", true);
        var owner = new FeedActor($"sub-{ownerEmail}", ownerEmail, false);
        // Each event's data is the model the change's own response (or a read right after it) showed.
        AssertEvent(changes[0], root, createdTenant);
        // Pending then, so it could be resent after the cooldown (a minute in TestApp).
        var nextResendAt = JsonSerializer.Deserialize<string>(JsonSerializer.Serialize(
            ownerInvitationModel.GetProperty("lastSentAt").GetDateTime().AddMinutes(1), TenantInvitations.Api.ApiJson.Options));
        AssertEvent(changes[1], root, With(ownerInvitationModel, ("status", "Pending"), ("acceptedAt", null), ("nextResendAt", nextResendAt)), ignore: "delivery");
        Assert.Equal(owner, changes[2].Actor);
        Assert.Equal("Accepted", changes[2].Data.GetProperty("status").GetString());
        Assert.Equal((ownerUserId, "Owner", ownerInvitationModel.GetProperty("id").GetInt64()),
            (changes[3].DataId("userId"), changes[3].Data.GetProperty("role").GetString(), changes[3].DataId("invitationId")));
        AssertEvent(changes[4], owner, created);
        AssertEvent(changes[5], owner, resent);
        AssertEvent(changes[6], owner, revoked);
        AssertEvent(changes[8], new FeedActor(null, b.Email, false), declined, ignore: "delivery");
        var invitee = new FeedActor(null, c.Email, false);
        AssertEvent(changes[10], invitee, accepted, ignore: "delivery");
        AssertEvent(changes[11], invitee, JsonSerializer.SerializeToElement(new
        {
            userId = cUserId, email = c.Email, displayName = (string?)null, role = "Admin",
            joinedAt = accepted.GetProperty("acceptedAt").GetDateTime(), invitationId = c.Id,
        }));
        AssertEvent(changes[12], owner, With(promoted, ("previousRole", "Admin")));
        AssertEvent(changes[13], owner, removed);
        AssertEvent(changes[14], owner, settings);
        Assert.All(changes, e => Assert.Equal(app.Clock.GetUtcNow().UtcDateTime, e.OccurredAt, TimeSpan.FromMinutes(3)));

        // Every email the mail server took is an invitation.delivered event, with no actor: owner, a twice, b, c.
        var delivered = (await Eventually.ValueAsync(async () => (await app.ReadToEndAsync($"/tenant/{tenantId}/admin/events?type=invitation.delivered", ownerToken)).Events,
            d => d.Count >= 5)).ToList();
        Assert.Equal(5, delivered.Count);
        Assert.All(delivered, d => Assert.Null(d.Actor));
        Assert.All(delivered, d => Assert.Equal("Sent", d.Data.GetProperty("delivery").GetProperty("status").GetString()));
        Assert.Equal(2, delivered.Count(d => d.DataId() == aId));
    }

    [Fact]
    public async Task Refused_changes_write_no_event_and_a_change_whose_event_fails_to_insert_does_not_happen()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var feed = $"/tenant/{tenant.Id}/admin/events";
        var (before, next) = await app.ReadToEndAsync(feed, tenant.OwnerToken);

        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = invitation.Email }, tenant.OwnerToken))
            .AssertError(HttpStatusCode.Conflict, "AlreadyInvited");
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/role?id={tenant.OwnerUserId}", tenant.OwnerToken, new { role = "Admin" }))
            .AssertError(HttpStatusCode.Conflict, "LastOwner");
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        await DatabaseSnapshot.SettledAsync(app); // the dispatcher's delivered event is written, so the fault hits the resend
        app.Faults.FailNextCommandContaining("INSERT INTO events");
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertError(HttpStatusCode.InternalServerError, "InternalError");

        await app.CaughtUpAsync();
        var after = (await app.GetAsync(next, tenant.OwnerToken)).Events();
        Assert.DoesNotContain(after, e => e.Type != "invitation.delivered");
        var stored = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Id == invitation.Id));
        Assert.Equal(1, stored.SendCount); // the resend whose event failed left nothing behind
        Assert.Equal(1, await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == invitation.Id)));
        Assert.NotEmpty(before);
    }

    [Fact]
    public async Task Following_next_one_event_at_a_time_gives_the_same_events_in_the_same_order_and_an_empty_page_links_to_what_comes_next()
    {
        var tenant = await app.CreateTenantAsync();
        await app.InviteAsync(tenant);
        await app.InviteAsync(tenant);
        var feed = $"/tenant/{tenant.Id}/admin/events";
        // The email file is written before its delivery is recorded: wait for the three invitation.delivered events too, or one
        // may join the feed between the two reads below (seen once on PostgreSQL under load).
        await Eventually.ValueAsync(() => app.QueryAsync(db => db.Events.IgnoreQueryFilters()
            .CountAsync(e => e.TenantId == tenant.Id && e.Type == "invitation.delivered")), delivered => delivered == 3);
        await app.CaughtUpAsync();
        var all = (await app.GetAsync($"{feed}?limit=100", tenant.OwnerToken)).Events();

        var oneByOne = new List<FeedEvent>();
        var path = $"{feed}?limit=1";
        ApiResponse response;
        while ((response = await app.GetAsync(path, tenant.OwnerToken)).Events() is { Length: > 0 } page)
        {
            Assert.Single(page);
            oneByOne.AddRange(page);
            path = response.Next();
            Assert.Contains("limit=1", path);
        }
        Assert.Equal(all.Select(e => e.Id), oneByOne.Select(e => e.Id));
        Assert.True(all.Length >= 7, string.Join(", ", all.Select(e => e.Type)));

        // The empty page's link is where the next event will appear, and only it.
        var emptyNext = response.Next();
        var third = await app.InviteAsync(tenant);
        await app.CaughtUpAsync();
        var fresh = (await app.GetAsync(emptyNext, tenant.OwnerToken)).Events().Where(e => e.Type == "invitation.created").ToList();
        Assert.Equal(third.Id, Assert.Single(fresh).DataId());
    }

    [Fact]
    public async Task The_type_filter_keeps_only_those_types()
    {
        var tenant = await app.CreateTenantAsync();
        await app.InviteAsync(tenant);

        var (events, _) = await app.ReadToEndAsync($"/tenant/{tenant.Id}/admin/events?type=member.added&type=tenant.created", tenant.OwnerToken);

        Assert.Equal(["tenant.created", "member.added"], events.Select(e => e.Type));
    }

    [Theory]
    [InlineData("after=garbage", "The after cursor is not valid.")]
    [InlineData("after=MS4y", "The after cursor is not valid.")]
    [InlineData("limit=0", "The limit must be from 1 to 100.")]
    [InlineData("limit=101", "The limit must be from 1 to 100.")]
    [InlineData("type=invitation.nope", "Each type must be an event type of the feed")]
    [InlineData("type=webhook.test", "Each type must be an event type of the feed")]
    [InlineData("type=", "Each type must be an event type of the feed")]
    public async Task Bad_feed_parameters_are_400(string query, string problem)
    {
        var tenant = await app.CreateTenantAsync();

        foreach (var (path, token) in new[] { ($"/tenant/{tenant.Id}/admin/events?{query}", tenant.OwnerToken), ($"/events?{query}", app.PlatformAdminToken) })
        {
            var response = await app.GetAsync(path, token);
            Assert.StartsWith(problem, Assert.Single(response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo));
        }
    }

    [Fact]
    public async Task Tenant_feeds_hold_only_their_tenants_events_and_the_platform_feed_holds_all()
    {
        var a = await app.CreateTenantAsync();
        var b = await app.CreateTenantAsync();
        await app.InviteAsync(b);

        var ofA = (await app.ReadToEndAsync($"/tenant/{a.Id}/admin/events", a.OwnerToken)).Events;
        var ofB = (await app.ReadToEndAsync($"/tenant/{b.Id}/admin/events", b.OwnerToken)).Events;
        var onlyB = (await app.ReadToEndAsync($"/events?tenantId={b.Id}", app.PlatformAdminToken)).Events;
        var all = (await app.ReadToEndAsync("/events", app.PlatformAdminToken)).Events;

        Assert.All(ofA, e => Assert.Equal(a.Id, e.TenantId));
        Assert.All(ofB, e => Assert.Equal(b.Id, e.TenantId));
        Assert.Equal(ofB.Select(e => e.Id), onlyB.Select(e => e.Id));
        Assert.Subset(all.Select(e => e.Id).ToHashSet(), ofA.Concat(ofB).Select(e => e.Id).ToHashSet());
        (await app.GetAsync($"/tenant/{b.Id}/admin/events", a.OwnerToken)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.GetAsync("/events", a.OwnerToken)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.GetAsync("/events")).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        (await app.GetAsync("/events?tenantId=0", app.PlatformAdminToken)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
        (await app.GetAsync("/events?tenantId=abc", app.PlatformAdminToken)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
    }

    [Fact]
    public async Task A_platform_admin_reading_a_tenants_feed_is_not_audited_per_request()
    {
        var tenant = await app.CreateTenantAsync();

        (await app.GetAsync($"/tenant/{tenant.Id}/admin/events", app.PlatformAdminToken)).AssertSuccess();
        (await app.GetAsync($"/tenant/{tenant.Id}/admin/user", app.PlatformAdminToken)).AssertSuccess();

        var reads = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .Where(a => a.TenantId == tenant.Id && a.Action == "platform_admin.read").Select(a => a.Details).ToListAsync());
        Assert.StartsWith("GET /tenant/{tenantId}/admin/user", Assert.Single(reads));
    }

    [Fact]
    public async Task A_lapsed_invitation_gets_one_expired_event_within_the_sweep_and_a_resend_rearms_it()
    {
        var tenant = await app.CreateTenantAsync();
        var created = (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail(), expiresInDays = 1 }, tenant.OwnerToken))
            .AssertSuccess(HttpStatusCode.Created)[0];
        var id = created.GetProperty("id").GetInt64();
        var revokedId = (await app.InviteAsync(tenant)).Id;
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={revokedId}", tenant.OwnerToken)).AssertSuccess();
        var expiresAt = created.GetProperty("expiresAt").GetDateTime();
        var feed = $"/tenant/{tenant.Id}/admin/events?type=invitation.expired";

        app.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromSeconds(1));
        var expired = await Eventually.ValueAsync(async () => (await app.ReadToEndAsync(feed, tenant.OwnerToken)).Events, e => e.Count > 0);
        var first = Assert.Single(expired);
        Assert.Equal((id, "Expired", (FeedActor?)null, expiresAt), (first.DataId(), first.Data.GetProperty("status").GetString(), first.Actor, first.OccurredAt));
        await Task.Delay(600); // three more sweeps
        Assert.Single((await app.ReadToEndAsync(feed, tenant.OwnerToken)).Events);

        (await app.PutAsync(Scenarios.ResendPath(tenant, id), tenant.OwnerToken)).AssertSuccess();
        app.Clock.Advance(TimeSpan.FromDays(2));
        var again = await Eventually.ValueAsync(async () => (await app.ReadToEndAsync(feed, tenant.OwnerToken)).Events, e => e.Count > 1);
        Assert.Equal([id, id], again.Select(e => e.DataId()));
        Assert.Equal(2, await app.QueryAsync(db => db.Events.IgnoreQueryFilters().CountAsync(e => e.TenantId == tenant.Id && e.Type == "invitation.expired")));
    }

    private static void AssertEvent(FeedEvent e, FeedActor actor, JsonElement data, string? ignore = null)
    {
        Assert.Equal(actor, e.Actor);
        Feed.AssertSameJson(Without(data, ignore), Without(e.Data, ignore));
    }

    private static JsonElement Without(JsonElement value, string? property)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(value.GetRawText())!.AsObject();
        if (property is not null)
        {
            node.Remove(property);
        }
        return JsonSerializer.SerializeToElement(node);
    }

    private static JsonElement With(JsonElement value, params (string Name, string? Value)[] changes)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(value.GetRawText())!.AsObject();
        foreach (var (name, changed) in changes)
        {
            node[name] = changed;
        }
        return JsonSerializer.SerializeToElement(node);
    }
}
