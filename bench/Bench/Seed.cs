using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace TenantInvitations.Bench;

// The seeded data, written straight into a migrated database with set-based SQL (the API would take an hour for 1M rows):
// - tenants 1..Tenants, each with the benchmark admin (sub bench-admin) as Admin;
// - the resend pool: Pending invitations last sent 2 hours ago (cooldown passed), row k in tenant 1 + k % Tenants;
// - the accept pool: Pending invitations whose link token is "bench" + k in 38 digits;
// - one tenant with 1,000 invitations and one with 1,000,000, one created per second going back.
// Ids are far above what the service hands out first, and its id blocks are moved past them.
internal sealed record Seed(int Tenants, int ResendPool, int AcceptPool)
{
    public const long ResendBase = 100_000_000;
    public const long AcceptBase = 200_000_000;
    public const long ThousandBase = 300_000_000;
    public const long MillionBase = 400_000_000;
    public const long ThousandTenant = 900_001;
    public const long MillionTenant = 900_002;
    public const string AdminSubject = "bench-admin";
    public const string AdminEmail = "admin@bench.test";

    public static string AcceptToken(long index) => $"bench{index:D38}";

    // The pool rows a run may use, handed out in order so no two runs share a row.
    public sealed class Slices(int size)
    {
        private int next;

        public int Take(int count)
        {
            var first = next;
            next += count;
            if (next > size)
            {
                throw new InvalidOperationException($"The pool of {size} rows is used up; seed a bigger one.");
            }
            return first;
        }
    }

    public async Task WritePostgresAsync(NpgsqlDataSource data)
    {
        await using var connection = await data.OpenConnectionAsync();
        await ExecAsync(connection, $"""
            INSERT INTO tenants (id, name, created_at, default_locale, allowed_email_domains)
            SELECT g, 'Tenant ' || g, now() - interval '30 days', 'en', ARRAY[]::text[] FROM generate_series(1, {Tenants}) g;
            INSERT INTO tenants (id, name, created_at, default_locale, allowed_email_domains) VALUES
              ({ThousandTenant}, 'A thousand invitations', now() - interval '30 days', 'en', ARRAY[]::text[]),
              ({MillionTenant}, 'A million invitations', now() - interval '30 days', 'en', ARRAY[]::text[]);
            INSERT INTO users (id, email, normalized_email, subject, created_at) VALUES (1, '{AdminEmail}', '{AdminEmail}', '{AdminSubject}', now());
            INSERT INTO memberships (tenant_id, user_id, role, joined_at) SELECT id, 1, 'Admin', now() FROM tenants;
            UPDATE id_blocks SET next_block = 1000000;
            """);
        await ExecAsync(connection, PostgresInvitations(ResendBase, ResendPool, $"1 + k % {Tenants}", "'r'", "sha256(int8send(100000000 + k))", "now() - interval '2 hours'"));
        await ExecAsync(connection, PostgresInvitations(AcceptBase, AcceptPool, $"1 + k % {Tenants}", "'a'",
            "sha256(convert_to('bench' || lpad(k::text, 38, '0'), 'UTF8'))", "now() - interval '1 hour'"));
        await ExecAsync(connection, PostgresInvitations(ThousandBase, 1_000, $"{ThousandTenant}", "'t'", "sha256(int8send(300000000 + k))", "now() - interval '1 hour' - k * interval '1 second'"));
        await ExecAsync(connection, PostgresInvitations(MillionBase, 1_000_000, $"{MillionTenant}", "'m'", "sha256(int8send(400000000 + k))", "now() - interval '1 hour' - k * interval '1 second'"));
        await ExecAsync(connection, "VACUUM ANALYZE");
        await ExecAsync(connection, "CHECKPOINT"); // or the seed's gigabyte of WAL is flushed in the middle of a run
    }

    // An invitation that lapsed before the run is seeded as the migration that installed events would leave it: announced, so
    // the expiry sweeper has no backlog of a few hundred thousand old lapses to write during the run.
    private static string PostgresInvitations(long idBase, int count, string tenant, string prefix, string hash, string createdAt) => $"""
        INSERT INTO invitations (id, tenant_id, email, normalized_email, role, status, token_hash, validity_days, locale, invited_by,
            created_at, expires_at, last_sent_at, send_count, recent_sends, version, delivery_outbox_id, delivery_status, delivery_attempts,
            expiry_announced)
        SELECT {idBase} + k, {tenant}, {prefix} || k || '@bench.test', {prefix} || k || '@bench.test', 'Member', 'Pending', {hash}, 7, 'en', '{AdminEmail}',
            c, c + interval '7 days', c, 1, ARRAY[c], 0, 0, 'Sent', 1, c + interval '7 days' <= now()
        FROM generate_series(0, {count - 1}) k, LATERAL (SELECT {createdAt} AS c) t
        """;

    public async Task WriteSqliteAsync(string connectionString)
    {
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        connection.CreateFunction("sha256", (string text) => SHA256.HashData(Encoding.ASCII.GetBytes(text)), isDeterministic: true);
        const string Now = "strftime('%Y-%m-%d %H:%M:%f', 'now')";
        const string Days30 = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-30 days')";
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecAsync(connection, $"""
            WITH RECURSIVE g(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM g WHERE k < {Tenants})
            INSERT INTO tenants (id, name, created_at, default_locale, allowed_email_domains)
            SELECT k, 'Tenant ' || k, {Days30}, 'en', '[]' FROM g;
            INSERT INTO tenants (id, name, created_at, default_locale, allowed_email_domains) VALUES
              ({ThousandTenant}, 'A thousand invitations', {Days30}, 'en', '[]'),
              ({MillionTenant}, 'A million invitations', {Days30}, 'en', '[]');
            INSERT INTO users (id, email, normalized_email, subject, created_at) VALUES (1, '{AdminEmail}', '{AdminEmail}', '{AdminSubject}', {Now});
            INSERT INTO memberships (tenant_id, user_id, role, joined_at) SELECT id, 1, 'Admin', {Now} FROM tenants;
            UPDATE id_blocks SET next_block = 1000000;
            """, transaction);
        await ExecAsync(connection, SqliteInvitations(ResendBase, ResendPool, $"1 + k % {Tenants}", "'r'", $"sha256('r' || k)", "'-2 hours'"), transaction);
        await ExecAsync(connection, SqliteInvitations(AcceptBase, AcceptPool, $"1 + k % {Tenants}", "'a'",
            "sha256('bench' || substr('00000000000000000000000000000000000000' || k, -38, 38))", "'-1 hours'"), transaction);
        await ExecAsync(connection, SqliteInvitations(ThousandBase, 1_000, $"{ThousandTenant}", "'t'", "sha256('t' || k)", "'-' || (3600 + k) || ' seconds'"), transaction);
        await ExecAsync(connection, SqliteInvitations(MillionBase, 1_000_000, $"{MillionTenant}", "'m'", "sha256('m' || k)", "'-' || (3600 + k) || ' seconds'"), transaction);
        await transaction.CommitAsync();
    }

    private static string SqliteInvitations(long idBase, int count, string tenant, string prefix, string hash, string ago) => $"""
        WITH RECURSIVE g(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM g WHERE k < {count - 1}),
        s(k, c, e) AS (SELECT k, strftime('%Y-%m-%d %H:%M:%f', 'now', {ago}), strftime('%Y-%m-%d %H:%M:%f', 'now', {ago}, '+7 days') FROM g)
        INSERT INTO invitations (id, tenant_id, email, normalized_email, role, status, token_hash, validity_days, locale, invited_by,
            created_at, expires_at, last_sent_at, send_count, recent_sends, version, delivery_outbox_id, delivery_status, delivery_attempts,
            expiry_announced)
        SELECT {idBase} + k, {tenant}, {prefix} || k || '@bench.test', {prefix} || k || '@bench.test', 'Member', 'Pending', {hash}, 7, 'en', '{AdminEmail}',
            c, e, c, 1, '["' || c || '"]', 0, 0, 'Sent', 1, e <= strftime('%Y-%m-%d %H:%M:%f', 'now')
        FROM s
        """;

    private static async Task ExecAsync(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.CommandTimeout = 600;
        await command.ExecuteNonQueryAsync();
    }
}
