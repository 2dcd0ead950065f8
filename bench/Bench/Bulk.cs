using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

using TenantInvitations.Bench;

// Bulk invitations and CSV imports on PostgreSQL, in a tenant of their own whose hourly quota is raised so that only the
// work is measured: one 1,000-row bulk request at a time (bulk_1000_p50), and one 100,000-row import from its 202 to
// Completed (import_rows_per_s). The sink holds delivery while they run, as for create at 32 connections; the emails they
// queued are then drained and checked, each once.
internal sealed partial class BenchRun
{
    public const long BulkTenant = 900_003;

    public List<double> BulkMilliseconds { get; } = [];
    public double ImportRowsPerSecond { get; private set; } = double.NaN;
    public Drain? BulkDrain { get; private set; }

    private async Task BulkAndImportAsync(Service service, Database database, string token)
    {
        const string provider = "Postgres";
        await database.ExecuteAsync($"""
            INSERT INTO tenants (id, name, created_at, default_locale, allowed_email_domains, emails_per_hour)
            VALUES ({BulkTenant}, 'Bulk and import', now(), 'en', ARRAY[]::text[], 1000000);
            INSERT INTO memberships (tenant_id, user_id, role, joined_at) VALUES ({BulkTenant}, 1, 'Admin', now());
            """);
        using var client = new HttpClient { BaseAddress = new Uri(service.BaseUrl), Timeout = TimeSpan.FromMinutes(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        await SettleAsync(provider);
        sink.Hold();
        var from = DateTime.UtcNow;

        // A warm-up request, then the measured ones.
        var requests = options.Quick ? 5 : 15;
        var created = 0;
        for (var r = -1; r < requests; r++)
        {
            var rows = Enumerable.Range(0, 1000).Select(i => new { email = $"bulk{r + 1}-{i}@bench.test", role = i % 10 == 0 ? "Admin" : "Member" });
            var body = JsonSerializer.Serialize(new { invitations = rows });
            var started = Stopwatch.GetTimestamp();
            using var response = await client.PostAsync($"tenant/{BulkTenant}/admin/user/invitation/bulk", new StringContent(body, Encoding.UTF8, "application/json"));
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            var ok = response.IsSuccessStatusCode
                && answer.GetProperty("value").EnumerateArray().All(row => row.GetProperty("status").GetString() == "Created");
            Expect(provider, "bulk: every row of a 1,000-row request Created", ok, $"{(int)response.StatusCode}");
            created += ok ? 1000 : 0;
            if (r >= 0)
            {
                BulkMilliseconds.Add(elapsed);
            }
        }
        Progress($"{provider}: bulk of 1,000 rows p50 {Median(BulkMilliseconds):0} ms over {requests} requests");

        // The import: one file, followed until Completed.
        var total = options.Quick ? 20_000 : 100_000;
        var csv = new StringBuilder("email,role,message\n");
        for (var i = 0; i < total; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"import{i}@bench.test,{(i % 10 == 0 ? "Admin" : "Member")},Welcome aboard\n");
        }
        var upload = Stopwatch.GetTimestamp();
        using (var started = await client.PostAsync($"tenant/{BulkTenant}/admin/user/invitation/import",
            new StringContent(csv.ToString(), new UTF8Encoding(false), "text/csv")))
        {
            Expect(provider, "import: 202 Accepted", (int)started.StatusCode == 202, $"{(int)started.StatusCode}");
            var location = started.Headers.Location?.OriginalString.TrimStart('/') ?? "";
            var deadline = DateTime.UtcNow.AddMinutes(10);
            JsonElement import = default;
            while (DateTime.UtcNow < deadline)
            {
                import = JsonDocument.Parse(await client.GetStringAsync(location)).RootElement.GetProperty("value");
                if (import.GetProperty("status").GetString() is "Completed" or "Failed" or "Cancelled")
                {
                    break;
                }
                await Task.Delay(100);
            }
            var seconds = Stopwatch.GetElapsedTime(upload).TotalSeconds;
            var done = import.GetProperty("status").GetString() == "Completed" && import.GetProperty("created").GetInt32() == total;
            Expect(provider, $"import: {total} rows Completed, each Created", done,
                $"{import.GetProperty("status").GetString()}, {import.GetProperty("created").GetInt32()} created");
            ImportRowsPerSecond = done ? total / seconds : double.NaN;
            created += done ? total : 0;
            Progress($"{provider}: imported {total} rows in {seconds:0.0} s: {total / seconds:0} rows/s");
        }

        // Then every email they queued goes out, once.
        var backlog = await database.QueuedBetweenAsync(from, DateTime.UtcNow);
        Expect(provider, "bulk and import: one email queued per invitation", backlog.Count == created, $"{backlog.Count} emails for {created} invitations");
        var released = DateTime.UtcNow;
        sink.Release();
        var drainDeadline = DateTime.UtcNow.AddMinutes(10);
        while (backlog.Any(m => !sink.Received.ContainsKey(m.MessageId)) && DateTime.UtcNow < drainDeadline)
        {
            await Task.Delay(200);
        }
        var arrived = backlog.Where(m => sink.Received.ContainsKey(m.MessageId)).Select(m => sink.Received[m.MessageId]).ToList();
        Expect(provider, "bulk and import: every email arrived", arrived.Count == backlog.Count, $"{arrived.Count} of {backlog.Count}");
        var drainSeconds = arrived.Count > 0 ? (arrived.Max() - released).TotalSeconds : double.NaN;
        BulkDrain = new Drain(provider, backlog.Count, arrived.Count / drainSeconds, new Cpu.PerRequest(double.NaN, double.NaN, double.NaN));
        Progress($"{provider}: drained {arrived.Count} bulk and import emails at {arrived.Count / drainSeconds:0} emails/s");
    }

    public static double Median(List<double> values) =>
        values.Count == 0 ? double.NaN : values.Order().ElementAt((values.Count - 1) / 2);
}
