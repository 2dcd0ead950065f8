using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.IdentityModel.JsonWebTokens;

namespace TenantInvitations.Tests;

// The commands and defaults of API.md, run as real processes in a fresh working directory.
public sealed class CommandsTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("ti-process-").FullName;

    [Fact]
    public async Task Service_on_embedded_defaults_runs_the_whole_flow_with_tokens_from_the_token_command()
    {
        using var service = ServiceProcess.Start(folder);
        await service.WaitUntilReadyAsync();
        Assert.True(File.Exists(Path.Combine(folder, "data", "invitations.db")), "The SQLite file is created under data/.");

        var admin = await TokenAsync("--sub", "root", "--email", "root@example.test", "--platform-admin");
        using var client = new HttpClient { BaseAddress = service.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", admin);
        var created = await client.PostAsJsonAsync("tenant", new { name = "Acme", ownerEmail = "owner@acme.test" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var mail = new Mailbox(Path.Combine(folder, "data", "mail"));
        var email = Assert.Single(await mail.WaitForAsync("owner@acme.test"));
        Assert.StartsWith("http://localhost:5080/accept?token=", (email.TextBody ?? "").Split('\n').Single(l => l.Contains("/accept?token=")).Trim());

        var owner = await TokenAsync("--sub", "owner-1", "--email", "owner@acme.test");
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", owner);
        var accepted = await client.PostAsJsonAsync("invitation/accept", new { token = Mailbox.TokenFrom(email) });
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var mine = JsonDocument.Parse(await client.GetStringAsync("me/tenants")).RootElement.GetProperty("value");
        Assert.Equal("Owner", Assert.Single(mine.EnumerateArray()).GetProperty("role").GetString());
    }

    [Fact]
    public async Task Token_command_prints_only_a_token_signed_with_the_configured_key()
    {
        var (exit, stdout, _) = await ServiceProcess.RunCommandAsync(folder,
            "token", "--sub", "alice", "--email", "alice@example.test", "--platform-admin", "--minutes", "5", "--Auth:SigningKey", TestApp.SigningKey);
        Assert.Equal(0, exit);
        var token = new JsonWebToken(stdout.Trim());
        Assert.Equal(stdout.Trim() + "\n", stdout);
        Assert.Equal("alice", token.Subject);
        Assert.Equal("alice@example.test", token.GetClaim("email").Value);
        Assert.Equal("platform-admin", token.GetClaim("role").Value);
        Assert.InRange(token.ValidTo - token.ValidFrom, TimeSpan.FromMinutes(4.9), TimeSpan.FromMinutes(5.1));

        using var app = new TestApp();
        (await app.GetAsync("/me/tenants", stdout.Trim())).AssertSuccess();
    }

    [Fact]
    public async Task Token_command_without_sub_prints_usage_and_fails()
    {
        var (exit, stdout, stderr) = await ServiceProcess.RunCommandAsync(folder, "token", "--email", "x@example.test");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains("usage: token --sub", stderr);
    }

    [Fact]
    public async Task Migrate_command_prepares_a_database_for_a_service_that_does_not_migrate_on_start()
    {
        using var database = TestDatabase.Create(folder);
        var (exit, stdout, stderr) = await ServiceProcess.RunCommandAsync(folder, ["migrate", .. database.Arguments]);
        Assert.True(exit == 0, stderr);
        Assert.Contains("Migrations applied.", stdout);

        await using (var connection = database.Connect())
        {
            await connection.OpenAsync();
            var tables = await TestDatabase.TablesAsync(connection);
            Assert.Subset(tables.ToHashSet(), new HashSet<string> { "tenants", "users", "memberships", "invitations", "outbox_messages", "audit_events" });
            if (connection is SqliteConnection)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA journal_mode";
                Assert.Equal("wal", await command.ExecuteScalarAsync());
            }
        }

        using var service = ServiceProcess.Start(folder, [.. database.Arguments, "--Storage:MigrateOnStart=false"]);
        await service.WaitUntilReadyAsync();
    }

    private async Task<string> TokenAsync(params string[] args)
    {
        var (exit, stdout, stderr) = await ServiceProcess.RunCommandAsync(folder, ["token", .. args]);
        Assert.True(exit == 0, stderr);
        return stdout.Trim();
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
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
