using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TenantInvitations.Email;
using TenantInvitations.Invitations;

namespace TenantInvitations.Tests;

// The scan every TestApp runs when disposed (see TestApp.SuiteProblems) can fail: planted leaks (in answers, logs, SQL and stored
// events) and audit changes are reported. The scanner is called directly here and the planted findings cleared, so this run
// itself stays green.
public sealed class LeakScanTests
{
    [Fact]
    public void The_scan_finds_a_token_and_every_form_of_its_hash_also_when_escaped()
    {
        // A token whose hash in base64 has a '+', which JSON writes as \u002B.
        var token = Enumerable.Range(0, 1000).Select(_ => InvitationToken.New().Value)
            .First(t => Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(t))).Contains('+'));
        var hash = SHA256.HashData(Encoding.ASCII.GetBytes(token));
        var scan = new LeakScan();
        scan.AddToken(token);
        scan.AddToken(InvitationToken.New().Value); // another secret that appears nowhere

        var problems = scan.Find(
        [
            ("token", $"{{\"next\":\"/x?token={token}&a=1\"}}"),
            ("hex", $"\\x{Convert.ToHexStringLower(hash)}"),
            ("HEX", $"hash={Convert.ToHexString(hash)};"),
            ("json base64", JsonSerializer.Serialize(new { hash = Convert.ToBase64String(hash) })),
            ("base64url", $"<b>{System.Buffers.Text.Base64Url.EncodeToString(hash)}</b>"),
            ("encoded link", "go to https%3A%2F%2Fi.example%2Faccept%3Ftoken%3Dsomething"),
            ("preview link", $"https://i.example/{EmailPreviewApi.PreviewPath}"),
            ("nothing", "Created invitation 42 for dana@example.test"),
        ]);

        Assert.Equal(
        [
            "HEX: the hash of token " + token[..6] + "… (hex)",
            "base64url: the hash of token " + token[..6] + "… (base64url)",
            "encoded link: an accept link",
            "hex: the hash of token " + token[..6] + "… (hex)",
            "json base64: the hash of token " + token[..6] + "… (base64)",
            "token: invitation token " + token[..6] + "…",
        ], problems);
    }

    [Fact]
    public async Task A_leaking_response_or_log_token_text_in_SQL_and_a_changed_audit_row_are_all_reported()
    {
        using var app = new LeakyApp();
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        Assert.Empty(app.SuiteProblems());

        (await app.GetAsync($"/invitation?token={invitation.Token}")).AssertSuccess();
        var leaky = await app.GetAsync($"/leaky?token={invitation.Token}");
        Assert.Equal(HttpStatusCode.OK, leaky.Status);
        await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AnyAsync(i => i.Email == invitation.Token));
        await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().Where(a => a.TenantId == tenant.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.Details, "rewritten")));
        await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().Where(a => a.TenantId == -1).ExecuteDeleteAsync());
        await app.QueryAsync(db =>
        {
            db.Events.Add(new TenantInvitations.Events.Event { Id = -1, Type = "planted", Data = $"{{\"token\":\"{invitation.Token}\"}}" });
            return db.SaveChangesAsync();
        });
        var problems = app.SuiteProblems();

        var shortToken = $"invitation token {invitation.Token[..6]}…";
        // ASP.NET Core's request log at Information holds the query string: why the service keeps Microsoft.AspNetCore at Warning.
        Assert.Contains($"log Information Microsoft.AspNetCore.Hosting.Diagnostics: {shortToken}", problems);
        Assert.Contains($"response to GET /leaky: {shortToken}", problems); // the header
        Assert.Contains(problems, p => p.StartsWith("response to GET /leaky: the hash of token", StringComparison.Ordinal)); // the body
        Assert.Contains("response to GET /leaky: an accept link", problems);
        Assert.Contains($"log Information {nameof(LeakyApp)}: an accept link", problems);
        Assert.Contains(problems, p => p.StartsWith("SQL command SELECT", StringComparison.Ordinal) && p.EndsWith(shortToken, StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("audit_events changed by: UPDATE", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("audit_events changed by: DELETE", StringComparison.Ordinal));
        Assert.Contains($"stored event -1 planted: {shortToken}", problems); // events are scanned as stored, not only as answered

        await app.QueryAsync(db => db.Events.IgnoreQueryFilters().Where(e => e.Id == -1).ExecuteDeleteAsync());
        app.Transcript.Clear();
        app.Commands.Clear();
    }

    // Logs request URLs, and answers /leaky with the token in a header, its hash and an encoded accept link in the body.
    private sealed class LeakyApp : TestApp
    {
        protected override IEnumerable<KeyValuePair<string, string>> Settings() => [new("Logging:LogLevel:Microsoft.AspNetCore", "Information")];

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton<IStartupFilter>(new Leak()));
        }

        private sealed class Leak : IStartupFilter
        {
            public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
            {
                app.Map("/leaky", leaky => leaky.Run(async http =>
                {
                    var token = http.Request.Query["token"].ToString();
                    http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(nameof(LeakyApp))
                        .LogInformation("Sent {Link}", $"https://invitations.example.test/accept?token={token}");
                    http.Response.Headers["X-Debug-Token"] = token;
                    await http.Response.WriteAsJsonAsync(new
                    {
                        hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(token))),
                        link = Uri.EscapeDataString($"/accept?token={token}"),
                    });
                }));
                next(app);
            };
        }
    }
}
