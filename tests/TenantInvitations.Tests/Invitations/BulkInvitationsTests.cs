using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Invitations;

namespace TenantInvitations.Tests;

// POST .../invitation/bulk: each row decided by the single create's rules, in order, with its emails, audit rows and events;
// and Idempotency-Key on it.
public sealed class BulkInvitationsTests(TestApp app) : IClassFixture<TestApp>
{
    private static string BulkPath(TenantSetup tenant) => $"/tenant/{tenant.Id}/admin/user/invitation/bulk";

    private static object Rows(params object[] rows) => new { invitations = rows };

    private static JsonElement[] Results(ApiResponse response) => [.. response.AssertSuccess().EnumerateArray()];

    private Task<int> PendingCountAsync(TenantSetup tenant) =>
        app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id && i.Status == InvitationStatus.Pending));

    [Fact]
    public async Task Every_status_in_one_request_each_row_as_a_single_create_would_answer_it()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");
        var member = await app.AddMemberAsync(tenant, "Member");
        var invited = await app.InviteAsync(tenant);
        var fresh = Scenarios.UniqueEmail("fresh");
        var other = Scenarios.UniqueEmail("other");

        var response = await app.PostAsync(BulkPath(tenant), Rows(
            new { email = fresh, role = "Admin", expiresInDays = 3 },
            new { email = "not-an-address" },
            new { email = Scenarios.UniqueEmail("badrole"), role = "Superuser" },
            new { email = Scenarios.UniqueEmail("wantsowner"), role = "Owner" },
            new { email = member.Email.ToUpperInvariant() },
            new { email = invited.Email },
            new { email = " " + fresh.ToUpperInvariant() },
            new { email = other, expiresInDays = 31 },
            new { email = other, locale = "de" }), admin.Token);

        var rows = Results(response);
        Assert.Equal(9, rows.Length);
        Assert.Equal(Enumerable.Range(0, 9), rows.Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(
            ["Created", "Invalid", "Invalid", "Forbidden", "AlreadyMember", "AlreadyInvited", "AlreadyInvited", "Invalid", "Created"],
            rows.Select(r => r.GetProperty("status").GetString()));
        Assert.Equal(
            [null, "ValidationError", "ValidationError", "Forbidden", "AlreadyMember", "AlreadyInvited", "AlreadyInvited", "ValidationError", null],
            rows.Select(r => r.GetProperty("error").ValueKind == JsonValueKind.Null ? null : r.GetProperty("error").GetProperty("code").GetString()));
        Assert.Equal([fresh, "not-an-address"], rows.Take(2).Select(r => r.GetProperty("email").GetString()));

        var created = rows[0].GetProperty("invitation");
        Assert.Equal(fresh, created.GetProperty("email").GetString());
        Assert.Equal("Admin", created.GetProperty("role").GetString());
        Assert.Equal("Pending", created.GetProperty("status").GetString());
        Assert.Equal(admin.Email, created.GetProperty("invitedBy").GetString());
        Assert.Equal(created.GetProperty("createdAt").GetDateTime().AddDays(3), created.GetProperty("expiresAt").GetDateTime());
        Assert.Equal("Queued", created.GetProperty("delivery").GetProperty("status").GetString());
        // The same address again in the request points at the first row's invitation; an existing one at itself.
        Assert.Equal(created.GetProperty("id").GetInt64(), rows[6].GetProperty("invitation").GetProperty("id").GetInt64());
        Assert.Equal([$"id: {created.GetProperty("id").GetInt64()}"], rows[6].GetProperty("error").GetProperty("info").EnumerateArray().Select(i => i.GetString()));
        Assert.Equal(invited.Id, rows[5].GetProperty("invitation").GetProperty("id").GetInt64());
        Assert.Equal(["The email field must be a valid email address, such as someone@example.com."],
            rows[1].GetProperty("error").GetProperty("info").EnumerateArray().Select(i => i.GetString()));
        Assert.Equal(["The role field must be Owner, Admin or Member."], rows[2].GetProperty("error").GetProperty("info").EnumerateArray().Select(i => i.GetString()));
        Assert.Equal("Only an Owner may invite an Owner.", rows[3].GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(["The expiresInDays field must be from 1 to 30."], rows[7].GetProperty("error").GetProperty("info").EnumerateArray().Select(i => i.GetString()));
        foreach (var refused in rows.Where(r => r.GetProperty("status").GetString() is not ("Created" or "AlreadyInvited")))
        {
            Assert.Equal(JsonValueKind.Null, refused.GetProperty("invitation").ValueKind);
        }
        Assert.Equal("de", (await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().SingleAsync(i => i.Email == other))).Locale);

        // Two invitations, each with its email, its audit row and its event; nothing for the other rows.
        Assert.Equal(3, await PendingCountAsync(tenant));
        Assert.Single(await app.WaitForEmailAsync(fresh));
        Assert.Single(await app.WaitForEmailAsync(other));
        var createdIds = new[] { created.GetProperty("id").GetInt64(), rows[8].GetProperty("invitation").GetProperty("id").GetInt64() };
        Assert.Equal(2, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .CountAsync(a => a.TenantId == tenant.Id && a.Action == "invitation.created" && createdIds.Contains(a.TargetId) && a.Details == "bulk")));
        var events = await app.QueryAsync(db => db.Events.IgnoreQueryFilters()
            .Where(e => e.TenantId == tenant.Id && e.Type == "invitation.created").Select(e => e.Data).ToListAsync());
        Assert.Single(events, d => d.Contains(fresh, StringComparison.Ordinal));
        Assert.Single(events, d => d.Contains(other, StringComparison.Ordinal));
        Assert.DoesNotContain(events, d => d.Contains("badrole-", StringComparison.Ordinal) || d.Contains("wantsowner-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_bulk_row_writes_the_rows_a_single_create_writes()
    {
        // On PostgreSQL a batch writes its rows with COPY (Data/CopyInsert.cs) rather than SaveChanges: column for column the same.
        var tenant = await app.CreateTenantAsync();
        var (single, bulk) = (Scenarios.UniqueEmail("single"), Scenarios.UniqueEmail("bulk"));
        var request = new { role = "Admin", expiresInDays = 3, message = "Welcome\naboard", locale = "de" };

        var one = (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = single, request.role, request.expiresInDays, request.message, request.locale },
            tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
        var many = Results(await app.PostAsync(BulkPath(tenant), Rows(new { email = bulk, request.role, request.expiresInDays, request.message, request.locale }),
            tenant.OwnerToken))[0].GetProperty("invitation").GetProperty("id").GetInt64();

        var rows = await app.QueryAsync(async db => new
        {
            Invitations = await db.Invitations.IgnoreQueryFilters().AsNoTracking().Where(i => i.Id == one || i.Id == many).OrderBy(i => i.Id != one).ToListAsync(),
            Outbox = await db.OutboxMessages.IgnoreQueryFilters().AsNoTracking().Where(m => m.InvitationId == one || m.InvitationId == many).OrderBy(m => m.InvitationId != one).ToListAsync(),
            Audit = await db.AuditEvents.IgnoreQueryFilters().AsNoTracking().Where(a => a.TargetId == one || a.TargetId == many).OrderBy(a => a.TargetId != one).ToListAsync(),
            Events = await db.Events.IgnoreQueryFilters().AsNoTracking().Where(e => e.Type == "invitation.created" && (e.Data.Contains(single) || e.Data.Contains(bulk)))
                .OrderBy(e => !e.Data.Contains(single)).ToListAsync(),
        });
        static string Same<T>(T row, params string[] differing) => JsonSerializer.Serialize(JsonSerializer.SerializeToElement(row).EnumerateObject()
            .Where(p => !differing.Contains(p.Name)).ToDictionary(p => p.Name, p => p.Value));
        Assert.Equal(Same(rows.Invitations[0], "Id", "Email", "NormalizedEmail", "TokenHash", "DeliveryOutboxId", "DeliveryStatus", "DeliveryAttempts", "DeliveryLastAttemptAt"),
            Same(rows.Invitations[1], "Id", "Email", "NormalizedEmail", "TokenHash", "DeliveryOutboxId", "DeliveryStatus", "DeliveryAttempts", "DeliveryLastAttemptAt"));
        Assert.Equal(Same(rows.Outbox[0], "Id", "InvitationId", "MessageId", "ProtectedToken", "Status", "Attempts", "LastAttemptAt", "FirstAttemptAt", "SentAt", "NextAttemptAt", "LockedBy", "LockedUntil", "LastError"),
            Same(rows.Outbox[1], "Id", "InvitationId", "MessageId", "ProtectedToken", "Status", "Attempts", "LastAttemptAt", "FirstAttemptAt", "SentAt", "NextAttemptAt", "LockedBy", "LockedUntil", "LastError"));
        Assert.Equal(Same(rows.Audit[0], "Id", "TargetId", "Details", "TraceId"), Same(rows.Audit[1], "Id", "TargetId", "Details", "TraceId"));
        Assert.Equal(("role Admin", "bulk"), (rows.Audit[0].Details, rows.Audit[1].Details));
        Assert.Equal(2, rows.Events.Count);
        Assert.Equal(rows.Events[0].Data.Replace(single, bulk).Replace($"\"id\":{one}", $"\"id\":{many}"),
            rows.Events[1].Data);
        Assert.Equal(Same(rows.Events[0], "Id", "Data", "Position", "TraceId"), Same(rows.Events[1], "Id", "Data", "Position", "TraceId"));
        Assert.Equal(rows.Events[0].Position is null, rows.Events[1].Position is null);
    }

    [Fact]
    public async Task An_Owner_may_invite_Owners_and_the_tenants_allowed_domains_hold_per_row()
    {
        var tenant = await app.CreateTenantAsync();
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/settings", tenant.OwnerToken, new { allowedEmailDomains = new[] { "allowed.test" } })).AssertSuccess();
        var inside = $"{Guid.NewGuid():N}@allowed.test";

        var rows = Results(await app.PostAsync(BulkPath(tenant), Rows(
            new { email = inside, role = "Owner" },
            new { email = Scenarios.UniqueEmail("outside") }), tenant.OwnerToken));

        Assert.Equal(["Created", "Invalid"], rows.Select(r => r.GetProperty("status").GetString()));
        Assert.Equal("Owner", rows[0].GetProperty("invitation").GetProperty("role").GetString());
        Assert.Equal(["This tenant only invites addresses at: allowed.test."],
            rows[1].GetProperty("error").GetProperty("info").EnumerateArray().Select(i => i.GetString()));
    }

    [Fact]
    public async Task Rows_over_the_hourly_quota_are_RateLimited_with_when_to_retry_and_get_no_email()
    {
        var tenant = await app.CreateTenantAsync();
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/settings", tenant.OwnerToken, new { emailsPerHour = 3 })).AssertSuccess();
        // The tenant's first Owner invitation is one email of the hour already.
        var emails = Enumerable.Range(0, 4).Select(i => Scenarios.UniqueEmail($"quota{i}")).ToArray();

        var rows = Results(await app.PostAsync(BulkPath(tenant), Rows([.. emails.Select(e => new { email = e })]), tenant.OwnerToken));

        Assert.Equal(["Created", "Created", "RateLimited", "RateLimited"], rows.Select(r => r.GetProperty("status").GetString()));
        var error = rows[2].GetProperty("error");
        Assert.Equal("RateLimited", error.GetProperty("code").GetString());
        Assert.Equal("This tenant has sent its 3 emails for this hour.", error.GetProperty("message").GetString());
        // The first email of the hour (the Owner's, at the tenant's creation) frees the next place an hour after it was queued.
        Assert.Equal(["Retry after 3600 seconds."], error.GetProperty("info").EnumerateArray().Select(i => i.GetString()));
        Assert.Equal(2, await PendingCountAsync(tenant));
        Assert.Single(await app.WaitForEmailAsync(emails[1]));
        Assert.Empty(app.Mail.To(emails[2]));

        // A single create is refused too, and an hour later the rows go through.
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = emails[2] }, tenant.OwnerToken)).AssertError((HttpStatusCode)429, "RateLimited");
        app.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        var later = Results(await app.PostAsync(BulkPath(tenant), Rows([.. emails.Select(e => new { email = e })]), tenant.OwnerToken));
        Assert.Equal(["AlreadyInvited", "AlreadyInvited", "Created", "Created"], later.Select(r => r.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task A_thousand_rows_with_ten_bad_ones_make_990_invitations_and_990_emails()
    {
        var tenant = await app.CreateTenantAsync();
        var prefix = Guid.NewGuid().ToString("N")[..8];
        var rows = Enumerable.Range(0, 1000).Select(i => i % 100 == 7
            ? new { email = $"bad {i}@example.test", role = "Member" }
            : new { email = $"{prefix}-{i}@example.test", role = i % 3 == 0 ? "Admin" : "Member" }).ToArray();

        var results = Results(await app.PostAsync(BulkPath(tenant), new { invitations = rows }, tenant.OwnerToken));

        Assert.Equal(1000, results.Length);
        Assert.Equal(Enumerable.Range(0, 1000).Where(i => i % 100 == 7), results.Where(r => r.GetProperty("status").GetString() == "Invalid")
            .Select(r => r.GetProperty("index").GetInt32()));
        Assert.Equal(990, results.Count(r => r.GetProperty("status").GetString() == "Created"));
        Assert.Equal(rows.Select(r => r.email), results.Select(r => r.GetProperty("email").GetString()));
        Assert.Equal(990, await PendingCountAsync(tenant));
        Assert.Equal(Enumerable.Range(0, 1000).Count(i => i % 100 != 7 && i % 3 == 0), await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters()
            .CountAsync(i => i.TenantId == tenant.Id && i.Email.StartsWith(prefix) && i.Role == TenantInvitations.Members.MemberRole.Admin)));
        await Eventually.ValueAsync(() => Task.FromResult(app.Mail.All().Count(m => m.To.ToString().StartsWith(prefix, StringComparison.Ordinal))),
            sent => sent == 990, seconds: 60);
    }

    [Fact]
    public async Task The_request_itself_must_list_1_to_1000_rows_and_bad_json_is_a_400_that_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var before = await PendingCountAsync(tenant);

        foreach (var body in new object[] { new { }, new { invitations = Array.Empty<object>() },
            new { invitations = Enumerable.Range(0, 1001).Select(i => new { email = $"x{i}@example.test" }) } })
        {
            var refused = (await app.PostAsync(BulkPath(tenant), body, tenant.OwnerToken)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
            Assert.Equal(["The invitations field must list 1 to 1000 invitations."], refused.ErrorInfo);
        }
        foreach (var raw in new[] { "{\"invitations\":[{\"email\":5}]}", "{\"invitations\":[{\"email\":\"a@b.test\",\"expiresInDays\":\"x\"}]}", "[", "{\"invitations\":{}}" })
        {
            (await app.SendAsync(HttpMethod.Post, BulkPath(tenant), tenant.OwnerToken, rawBody: raw)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
        }
        var nullRow = Results(await app.SendAsync(HttpMethod.Post, BulkPath(tenant), tenant.OwnerToken, rawBody: "{\"invitations\":[null]}"));
        Assert.Equal("Invalid", Assert.Single(nullRow).GetProperty("status").GetString());
        Assert.Equal(before, await PendingCountAsync(tenant));
    }

    // ---- Idempotency-Key ----

    private Task<ApiResponse> BulkWithKeyAsync(TenantSetup tenant, string key, object body, CancellationToken cancellationToken = default) =>
        app.SendAsync(HttpMethod.Post, BulkPath(tenant), tenant.OwnerToken, body, cancellationToken: cancellationToken, headers: [new("Idempotency-Key", key)]);

    [Fact]
    public async Task A_replay_with_the_same_key_and_body_answers_as_the_first_did_and_makes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var key = $"bulk-{Guid.NewGuid()}";
        var email = Scenarios.UniqueEmail("once");
        var body = Rows(new { email }, new { email = "broken" });

        var first = await BulkWithKeyAsync(tenant, key, body);
        var auditRows = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TenantId == tenant.Id));
        // The same JSON written differently is the same body.
        var replay = await app.SendAsync(HttpMethod.Post, BulkPath(tenant), tenant.OwnerToken,
            rawBody: $"{{ \"invitations\" : [ {{\"email\": \"{email}\"}},\n{{\"email\":\"broken\"}} ] }}", headers: [new("Idempotency-Key", key)]);

        Assert.Equal(["Created", "Invalid"], Results(first).Select(r => r.GetProperty("status").GetString()));
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(HttpStatusCode.OK, replay.Status);
        Assert.Equal(first.Body, replay.Body);
        Assert.Equal(["true"], replay.Headers.GetValues("Idempotent-Replayed"));
        Assert.Equal(1, await PendingCountAsync(tenant));
        Assert.Equal(auditRows, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TenantId == tenant.Id)));
        Assert.Single(await app.WaitForEmailAsync(email));

        // Without a key the same request is decided again; with a new key too.
        Assert.Equal("AlreadyInvited", Results(await app.PostAsync(BulkPath(tenant), body, tenant.OwnerToken))[0].GetProperty("status").GetString());
        Assert.Equal("AlreadyInvited", Results(await BulkWithKeyAsync(tenant, key + "-2", body))[0].GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_key_reused_with_another_body_is_422_and_keys_are_per_tenant_and_kept_for_a_day()
    {
        var tenant = await app.CreateTenantAsync();
        var another = await app.CreateTenantAsync();
        var key = "same-key";

        Results(await BulkWithKeyAsync(tenant, key, Rows(new { email = Scenarios.UniqueEmail("a") })));
        var reused = (await BulkWithKeyAsync(tenant, key, Rows(new { email = Scenarios.UniqueEmail("b") }))).AssertError((HttpStatusCode)422, "IdempotencyKeyReused");
        Assert.Equal("This Idempotency-Key was used with a different request body; use a new key for a new request.", reused.Json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(1, await PendingCountAsync(tenant));

        // Another tenant's key of the same name is its own.
        Assert.Equal("Created", Results(await BulkWithKeyAsync(another, key, Rows(new { email = Scenarios.UniqueEmail("c") })))[0].GetProperty("status").GetString());

        // After 24 hours the key is free again.
        app.Clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        var later = await BulkWithKeyAsync(tenant, key, Rows(new { email = Scenarios.UniqueEmail("d") }));
        Assert.Equal("Created", Results(later)[0].GetProperty("status").GetString());
        Assert.False(later.Headers.Contains("Idempotent-Replayed"));
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("tab\tkey")]
    [InlineData("ключ")]
    public async Task A_malformed_key_is_a_400_that_changes_nothing(string key)
    {
        var tenant = await app.CreateTenantAsync();

        var response = await app.SendAsync(HttpMethod.Post, BulkPath(tenant), tenant.OwnerToken, Rows(new { email = Scenarios.UniqueEmail("k") }),
            headers: [new("Idempotency-Key", key)]);

        Assert.Equal(["The Idempotency-Key header must be one value of 1 to 255 visible ASCII characters."],
            response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Equal(0, await PendingCountAsync(tenant));
    }

    [Fact]
    public async Task A_key_of_256_characters_is_refused_and_255_is_taken()
    {
        var tenant = await app.CreateTenantAsync();

        (await BulkWithKeyAsync(tenant, new string('k', 256), Rows(new { email = Scenarios.UniqueEmail("k") }))).AssertError(HttpStatusCode.BadRequest, "ValidationError");
        Results(await BulkWithKeyAsync(tenant, new string('k', 255), Rows(new { email = Scenarios.UniqueEmail("k") })));
    }

    [Fact]
    public async Task While_the_first_request_runs_the_same_key_is_409_and_a_first_request_that_failed_frees_it()
    {
        var tenant = await app.CreateTenantAsync();
        var key = $"slow-{Guid.NewGuid()}";
        var email = Scenarios.UniqueEmail("slow");
        var body = Rows(new { email });

        using var abort = new CancellationTokenSource();
        // Held at its read of pending invitations, inside its transaction, a statement only a batch runs.
        var held = app.Faults.HoldNextCommandContaining(InvitationBatch.PendingTag);
        var first = BulkWithKeyAsync(tenant, key, body, abort.Token);
        try
        {
            await held.WaitAsync(TimeSpan.FromSeconds(30));
            var second = (await BulkWithKeyAsync(tenant, key, body)).AssertError(HttpStatusCode.Conflict, "IdempotencyKeyInUse");
            Assert.Equal(["1"], second.Headers.GetValues("Retry-After"));
        }
        finally
        {
            // The first request is abandoned before it commits: nothing was made, and the key is free for the retry, which does the work.
            await abort.CancelAsync();
        }
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        await Eventually.ValueAsync(() => app.QueryAsync(db => db.IdempotencyRecords.CountAsync(r => r.TenantId == tenant.Id)), left => left == 0);
        Assert.Equal(0, await PendingCountAsync(tenant));
        var retry = await BulkWithKeyAsync(tenant, key, body);
        Assert.Equal("Created", Results(retry)[0].GetProperty("status").GetString());
        Assert.Equal(retry.Body, (await BulkWithKeyAsync(tenant, key, body)).Body);
    }
}
