using System.Net;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using TenantInvitations.Data;

namespace TenantInvitations.Tests;

public sealed class RetentionTestApp : TestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
        [new("Events:RetentionDays", "1"), new("Events:RetentionInterval", "00:00:00.200")];
}

// Old events are deleted, and a consumer whose cursor is behind a deleted event is told to start again rather than silently skip it.
public sealed class EventRetentionTests(RetentionTestApp app) : IClassFixture<RetentionTestApp>
{
    [Fact]
    public async Task Events_past_retention_are_deleted_and_a_cursor_behind_them_is_400_while_a_current_one_keeps_working()
    {
        var tenant = await app.CreateTenantAsync();
        await app.InviteAsync(tenant);
        var feed = $"/tenant/{tenant.Id}/admin/events";
        var firstPage = await app.GetAsync($"{feed}?limit=1", tenant.OwnerToken);
        var behind = firstPage.Next();
        var (events, current) = await app.ReadToEndAsync(feed, tenant.OwnerToken);
        Assert.True(events.Count >= 4);

        app.Clock.Advance(TimeSpan.FromDays(2));
        await Eventually.ValueAsync(() => app.QueryAsync(db => db.Events.IgnoreQueryFilters().CountAsync(e => e.TenantId == tenant.Id)), n => n == 0);

        var refused = await app.GetAsync(behind, tenant.OwnerToken);
        Assert.Contains("Start again without after", Assert.Single(refused.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo));
        Assert.Empty((await app.GetAsync(current, tenant.OwnerToken)).Events());
        Assert.Empty((await app.GetAsync(feed, tenant.OwnerToken)).Events());
        var invited = await app.InviteAsync(tenant);
        var fresh = (await app.ReadToEndAsync(current, tenant.OwnerToken)).Events;
        Assert.Equal(invited.Id, Assert.Single(fresh, e => e.Type == "invitation.created").DataId());
    }
}

// A database from before events: invitations already lapsed when the migration ran get no invitation.expired; later lapses do.
public sealed class PreEventsDatabaseApp : TestApp
{
    public const long TenantId = 9_000_000_001;
    public const long LapsedId = 9_000_000_002;
    public const long PendingId = 9_000_000_003;

    protected override IEnumerable<KeyValuePair<string, string>> Settings() => [new("Events:ExpirySweep", "00:00:00.200")];

    protected override void PrepareDatabase(TestDatabase database)
    {
        using (var db = Context(database))
        {
            var before = db.Database.GetMigrations().TakeWhile(m => !m.EndsWith("_EventsAndWebhooks", StringComparison.Ordinal)).Last();
            db.GetService<IMigrator>().Migrate(before);
        }
        using var connection = database.Connect();
        connection.Open();
        var postgres = database.Provider == "Postgres";
        var now = DateTime.UtcNow;
        Execute(connection, "INSERT INTO tenants (id, name, created_at, default_locale, allowed_email_domains) VALUES (@id, 'Old', @now, 'en', @domains)",
            ("id", TenantId), ("now", now.AddDays(-10)), ("domains", postgres ? Array.Empty<string>() : "[]"));
        foreach (var (id, expiresAt) in new[] { (LapsedId, now.AddDays(-1)), (PendingId, now.AddHours(1)) })
        {
            Execute(connection, """
                INSERT INTO invitations (id, tenant_id, email, normalized_email, role, status, token_hash, validity_days, locale, invited_by,
                    created_at, expires_at, last_sent_at, send_count, recent_sends, version, delivery_outbox_id, delivery_status, delivery_attempts)
                VALUES (@id, @tenant, @email, @email, 'Member', 'Pending', @hash, 7, 'en', 'old@example.test',
                    @sent, @expires, @sent, 1, @sends, 0, 0, 'Sent', 1)
                """,
                ("id", id), ("tenant", TenantId), ("email", $"old-{id}@example.test"), ("hash", RandomNumberGenerator.GetBytes(32)),
                ("sent", expiresAt.AddDays(-7)), ("expires", expiresAt), ("sends", postgres ? Array.Empty<DateTime>() : "[]"));
        }
    }

    private static AppDbContext Context(TestDatabase database)
    {
        if (database.Provider == "Postgres")
        {
            var options = new DbContextOptionsBuilder<PostgresAppDbContext>();
            PostgresStorage.Configure(options, database.ConnectionString);
            return new PostgresAppDbContext(options.Options);
        }
        var sqlite = new DbContextOptionsBuilder<SqliteAppDbContext>();
        SqliteStorage.Configure(sqlite, database.ConnectionString);
        return new SqliteAppDbContext(sqlite.Options);
    }

    private static void Execute(System.Data.Common.DbConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
        command.ExecuteNonQuery();
    }
}

public sealed class ExpiryMigrationTests(PreEventsDatabaseApp app) : IClassFixture<PreEventsDatabaseApp>
{
    [Fact]
    public async Task An_invitation_lapsed_before_events_were_installed_gets_no_expired_event_and_one_lapsing_after_does()
    {
        var feed = $"/events?tenantId={PreEventsDatabaseApp.TenantId}&type=invitation.expired";
        await Task.Delay(600); // three sweeps
        Assert.Empty((await app.ReadToEndAsync(feed, app.PlatformAdminToken)).Events);

        app.Clock.Advance(TimeSpan.FromHours(2));

        var expired = await Eventually.ValueAsync(async () => (await app.ReadToEndAsync(feed, app.PlatformAdminToken)).Events, e => e.Count > 0);
        Assert.Equal(PreEventsDatabaseApp.PendingId, Assert.Single(expired).DataId());
        await Task.Delay(600);
        Assert.Single((await app.ReadToEndAsync(feed, app.PlatformAdminToken)).Events);
    }
}
