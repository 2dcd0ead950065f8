using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

// Imports with real processes behind real Kestrel: one SIGKILLed in the middle of an import, whose successor takes the job over
// after its lease and finishes it without making any invitation twice; and the body limits as Kestrel enforces them.
public sealed class ImportCrashTests : IAsyncLifetime
{
    private readonly string folder = Directory.CreateTempSubdirectory("ti-import-").FullName;
    private readonly TestDatabase database;

    public ImportCrashTests() => database = TestDatabase.Create(folder);

    private string Mail => Path.Combine(folder, "mail");

    private string[] Settings(int chunkSize) =>
    [
        // A short email lease too: emails the killed process had claimed go out once the successor takes them over.
        $"--Auth:SigningKey={TestApp.SigningKey}", $"--Email:PickupDirectory={Mail}", "--Email:PollInterval=00:00:00.200", "--Email:LeaseDuration=00:00:03",
        $"--Imports:ChunkSize={chunkSize.ToString(CultureInfo.InvariantCulture)}", "--Imports:LeaseDuration=00:00:02", "--Imports:PollInterval=00:00:00.100",
        "--Invitations:EmailsPerHour=100000",
        .. database.Arguments,
    ];

    private static HttpClient Client(ServiceProcess service)
    {
        var client = new HttpClient { BaseAddress = service.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token("root", "root@example.test", platformAdmin: true));
        return client;
    }

    private static async Task<long> CreateTenantAsync(HttpClient client)
    {
        var created = await client.PostAsJsonAsync("tenant", new { name = "Import Co", ownerEmail = "owner@import.test" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("value").GetProperty("id").GetInt64();
    }

    private static StringContent Csv(string text) => new(text, new UTF8Encoding(false), "text/csv");

    private static async Task<JsonElement> ImportAsync(HttpClient client, string path) =>
        JsonDocument.Parse(await client.GetStringAsync(path)).RootElement.GetProperty("value");

    [Fact]
    public async Task An_import_whose_process_is_killed_is_taken_over_and_no_row_makes_two_invitations()
    {
        const int rows = 6000;
        // One row a chunk: thousands of commits, so the import is still running when the kill comes, however late the
        // poll that sees its first rows (with 25 a chunk, a loaded machine once saw all 6,000 done by then).
        using var first = ServiceProcess.Start(folder, Settings(chunkSize: 1));
        await first.WaitUntilReadyAsync();
        using var client = Client(first);
        var tenantId = await CreateTenantAsync(client);
        var csv = new StringBuilder("email,role\r\n");
        for (var i = 0; i < rows; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"person{i}@import.test,{(i % 10 == 0 ? "Admin" : "Member")}\r\n");
        }

        var started = await client.PostAsync($"tenant/{tenantId}/admin/user/invitation/import", Csv(csv.ToString()));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var path = started.Headers.Location!.OriginalString.TrimStart('/');
        // SIGKILL once some chunks are in, well before the end.
        var before = await Eventually.ValueAsync(() => ImportAsync(client, path), i => i.GetProperty("processedRows").GetInt32() >= 50, seconds: 60);
        first.Kill();

        await using (var db = database.Connect())
        {
            await db.OpenAsync();
            await using var command = db.CreateCommand();
            command.CommandText = "SELECT processed_rows, status FROM invitation_imports";
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            var processedAtDeath = reader.GetInt32(0);
            Assert.True(processedAtDeath < rows, $"The import finished ({processedAtDeath} rows) before the process was killed: make it longer.");
            Assert.Equal("Running", reader.GetString(1));
            Assert.True(processedAtDeath >= before.GetProperty("processedRows").GetInt32());
        }

        using var second = ServiceProcess.Start(folder, Settings(chunkSize: 500));
        await second.WaitUntilReadyAsync();
        using var again = Client(second);
        var done = await Eventually.ValueAsync(() => ImportAsync(again, path), i => i.GetProperty("status").GetString() == "Completed", seconds: 120);

        Assert.Equal((rows, rows, rows, 0, 0), (done.GetProperty("totalRows").GetInt32(), done.GetProperty("processedRows").GetInt32(),
            done.GetProperty("created").GetInt32(), done.GetProperty("skipped").GetInt32(), done.GetProperty("failed").GetInt32()));
        // One invitation per row, each with one email queued, and one result per line pointing at it.
        var results = ImportsTests.ReadCsv(await again.GetStringAsync(path + "/results"));
        Assert.Equal(rows + 1, results.Count);
        Assert.Equal(Enumerable.Range(2, rows).Select(l => l.ToString(CultureInfo.InvariantCulture)), results.Skip(1).Select(r => r[0]));
        Assert.All(results.Skip(1), r => Assert.Equal("Created", r[2]));
        Assert.Equal(rows, results.Skip(1).Select(r => r[3]).Distinct().Count());
        await using (var db = database.Connect())
        {
            await db.OpenAsync();
            await using var command = db.CreateCommand();
            command.CommandText = $"""
                SELECT (SELECT count(*) FROM invitations WHERE tenant_id = {tenantId} AND email LIKE 'person%'),
                       (SELECT count(DISTINCT normalized_email) FROM invitations WHERE tenant_id = {tenantId} AND email LIKE 'person%'),
                       (SELECT count(*) FROM outbox_messages o JOIN invitations i ON i.id = o.invitation_id WHERE i.tenant_id = {tenantId} AND i.email LIKE 'person%'),
                       (SELECT count(*) FROM invitations WHERE tenant_id = {tenantId} AND email LIKE 'person%' AND role = 'Admin'),
                       (SELECT count(*) FROM audit_events WHERE tenant_id = {tenantId} AND action = 'invitation.created' AND details = 'import ' || (SELECT id FROM invitation_imports))
                """;
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal((rows, rows, rows, rows / 10, rows),
                (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4)));
        }
        // Every row's email arrives, once.
        await Eventually.ValueAsync(() => Task.FromResult(Directory.GetFiles(Mail, "*.eml").Length), sent => sent >= rows + 1, seconds: 120);
        var recipients = new Mailbox(Mail).All().Select(m => m.To.ToString()).Where(t => t.StartsWith("person", StringComparison.Ordinal)).ToList();
        Assert.Equal(rows, recipients.Count);
        Assert.Equal(rows, recipients.Distinct().Count());
    }

    [Fact]
    public async Task Kestrel_takes_a_5_MB_file_for_an_import_refuses_over_10_MB_and_keeps_1_MB_everywhere_else()
    {
        using var service = ServiceProcess.Start(folder, Settings(chunkSize: 500));
        await service.WaitUntilReadyAsync();
        using var client = Client(service);
        var tenantId = await CreateTenantAsync(client);
        var big = new StringBuilder("email,message\n");
        while (big.Length < 5 * 1024 * 1024)
        {
            big.Append("someone@import.test,").Append('m', 400).Append('\n');
        }

        var accepted = await client.PostAsync($"tenant/{tenantId}/admin/user/invitation/import", Csv(big.ToString()));
        // Sent without a Content-Length, as a stream: the limit holds while the body is read.
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("email\n" + new string('a', 10 * 1024 * 1024))));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"tenant/{tenantId}/admin/user/invitation/import") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        var tooBig = await client.SendAsync(request);
        var bulkOverOneMb = await client.PostAsJsonAsync($"tenant/{tenantId}/admin/user/invitation/bulk",
            new { invitations = Enumerable.Range(0, 1000).Select(i => new { email = $"p{i}@import.test", message = new string('m', 1100) }) });

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);
        Assert.Equal("PayloadTooLarge", JsonDocument.Parse(await tooBig.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, bulkOverOneMb.StatusCode);
        Assert.Equal("PayloadTooLarge", JsonDocument.Parse(await bulkOverOneMb.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        await using var db = database.Connect();
        await db.OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = "SELECT count(*) FROM invitation_imports";
        Assert.Equal(1L, Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        database.Dispose();
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        return Task.CompletedTask;
    }
}
