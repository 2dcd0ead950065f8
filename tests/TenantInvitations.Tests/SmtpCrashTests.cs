using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace TenantInvitations.Tests;

// At-least-once delivery across a crash, with real processes: the SMTP server has the email, the service dies
// before it records that, and the next process sends it again as the same email (same Message-ID).
public sealed class SmtpCrashTests : IAsyncLifetime
{
    private readonly string folder = Directory.CreateTempSubdirectory("ti-crash-").FullName;
    private readonly SmtpSink smtp = new();
    private readonly TestDatabase database;

    public SmtpCrashTests() => database = TestDatabase.Create(folder);

    [Fact]
    public async Task Killed_between_the_smtp_accept_and_the_database_update_the_email_is_delivered_again_with_the_same_message_id()
    {
        string[] settings =
        [
            "--Email:Smtp:Host=127.0.0.1", $"--Email:Smtp:Port={smtp.Port.ToString(CultureInfo.InvariantCulture)}", "--Email:Smtp:UseTls=false",
            "--Email:LeaseDuration=00:00:02", "--Email:PollInterval=00:00:00.200", $"--Auth:SigningKey={TestApp.SigningKey}",
            .. database.Arguments,
        ];
        var first = ServiceProcess.Start(folder, settings);
        await first.WaitUntilReadyAsync();
        var killed = new TaskCompletionSource();
        smtp.OnReceived = _ =>
        {
            if (!killed.Task.IsCompleted)
            {
                first.Kill(); // the message is stored here; the service never records it
                killed.TrySetResult();
            }
            return Task.CompletedTask;
        };

        using var client = new HttpClient { BaseAddress = first.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token("root", "root@example.test", platformAdmin: true));
        var created = await client.PostAsJsonAsync("tenant", new { name = "Crash Co", ownerEmail = "owner@crash.test" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var tenantId = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("value").GetProperty("id").GetInt64();
        await killed.Task.WaitAsync(TimeSpan.FromSeconds(20));
        first.Dispose();

        using var second = ServiceProcess.Start(folder, settings);
        await second.WaitUntilReadyAsync();
        var copies = await smtp.WaitForAsync("owner@crash.test", 2);
        Assert.Single(copies.Select(m => m.MessageId).Distinct());
        Assert.Equal(Mailbox.TokenFrom(copies[0]), Mailbox.TokenFrom(copies[1]));

        using var again = new HttpClient { BaseAddress = second.BaseAddress };
        again.DefaultRequestHeaders.Authorization = client.DefaultRequestHeaders.Authorization;
        var delivery = await Eventually.ValueAsync(async () =>
        {
            var list = JsonDocument.Parse(await again.GetStringAsync($"tenant/{tenantId}/admin/user/invitation")).RootElement;
            return list.GetProperty("value")[0].GetProperty("delivery").GetProperty("status").GetString();
        }, status => status == "Sent");
        Assert.Equal("Sent", delivery);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 only awaits the former on a test class.
    public async Task DisposeAsync()
    {
        await smtp.DisposeAsync();
        database.Dispose();
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // a process still shutting down; the temp folder is cleaned later
        }
    }
}
