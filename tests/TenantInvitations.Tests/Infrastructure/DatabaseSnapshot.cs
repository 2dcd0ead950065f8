using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Email;
using TenantInvitations.Events;
using TenantInvitations.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace TenantInvitations.Tests;

// Every table of an app's database, to show that refused requests changed nothing.
public static class DatabaseSnapshot
{
    // The email dispatcher updates delivery columns and writes delivery events in the background, the webhook fan-out moves its
    // mark over new events, and the webhook dispatcher sends what is due: a snapshot waits until none has anything left to do now.
    public static Task SettledAsync(TestApp app) => Eventually.ValueAsync(() => app.QueryAsync(async db =>
    {
        var queued = await db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.Status == OutboxStatus.Queued);
        var mark = await db.EventMarks.AsNoTracking().SingleAsync(m => m.Name == EventMark.WebhooksFannedOut);
        var unseen = await db.Events.IgnoreQueryFilters().CountAsync(e => e.Type != EventTypes.WebhookTest
            && (e.Position > mark.Position || (e.Position == mark.Position && e.Id > mark.EventId)));
        var now = app.Clock.GetUtcNow().UtcDateTime;
        var due = await db.WebhookDeliveries.IgnoreQueryFilters()
            .Where(d => (d.Status == WebhookDeliveryStatus.Pending || d.Status == WebhookDeliveryStatus.Retrying) && (d.NextAttemptAt <= now || d.LockedBy != null))
            .Select(d => new { d.EndpointId, d.LockedBy }).ToListAsync();
        // An endpoint resting between probes keeps its due deliveries until the (fake) clock moves: nothing more happens to them now.
        var dispatcher = app.Services.GetServices<IHostedService>().OfType<WebhookDispatcher>().Single();
        return queued + unseen + due.Count(d => d.LockedBy != null || !dispatcher.IsResting(d.EndpointId));
    }), left => left == 0);

    // Each table's row count and a SHA-256 over all its rows, in an order that does not depend on storage.
    public static Task<Dictionary<string, string>> TakeAsync(TestApp app) => app.QueryAsync(async db =>
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync();
        var tables = await TestDatabase.TablesAsync(connection);
        var snapshot = new Dictionary<string, string>();
        foreach (var table in tables)
        {
            await using var select = connection.CreateCommand();
            select.CommandText = $"SELECT * FROM \"{table}\"";
            await using var reader = await select.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
            {
                rows.Add(string.Join("\u001f", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "\u2400" : Format(reader.GetValue(i)))));
            }
            rows.Sort(StringComparer.Ordinal);
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\u001e", rows))))[..16];
            snapshot[table] = $"{rows.Count} rows, sha256 {hash}";
        }
        return snapshot;
    });

    // The tables that differ between two snapshots, described.
    public static IEnumerable<string> Differences(Dictionary<string, string> before, Dictionary<string, string> after) =>
        before.Keys.Union(after.Keys).Order()
            .Where(table => before.GetValueOrDefault(table) != after.GetValueOrDefault(table))
            .Select(table => $"Table {table} changed: before {before.GetValueOrDefault(table)}, after {after.GetValueOrDefault(table)}");

    // Every value in full: blobs as hex, times to the tick, arrays (PostgreSQL's) element by element.
    private static string Format(object value) => value switch
    {
        byte[] blob => Convert.ToHexString(blob),
        DateTime time => time.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        Array array => "[" + string.Join(",", array.Cast<object>().Select(Format)) + "]",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
