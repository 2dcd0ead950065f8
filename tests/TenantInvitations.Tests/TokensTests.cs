using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TenantInvitations.Email;
using TenantInvitations.Invitations;

namespace TenantInvitations.Tests;

// Invitation tokens: random enough, stored only as hashes, refused in every lapsed state on every endpoint, and an unknown
// token answered the same way whatever it looks like.
public sealed partial class TokensTests(TestApp app) : IClassFixture<TestApp>
{
    [Fact]
    public void Ten_thousand_generated_tokens_are_unique_with_256_random_bits()
    {
        var tokens = Enumerable.Range(0, 10_000).Select(_ => InvitationToken.New()).ToList();

        Assert.Equal(10_000, tokens.Select(t => t.Value).Distinct().Count());
        Assert.Equal(10_000, tokens.Select(t => Convert.ToHexString(t.Hash)).Distinct().Count());
        var ones = new int[256];
        foreach (var (value, hash) in tokens)
        {
            Assert.True(InvitationToken.IsWellFormed(value), value);
            var bits = System.Buffers.Text.Base64Url.DecodeFromChars(value);
            Assert.Equal(32, bits.Length);
            Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(value)), hash);
            for (var bit = 0; bit < 256; bit++)
            {
                ones[bit] += (bits[bit / 8] >> (bit % 8)) & 1;
            }
        }
        // Each of the 256 bits is set in about half the tokens (±5 % is ten standard deviations): none is fixed or biased.
        Assert.All(ones, count => Assert.InRange(count, 4_500, 5_500));
    }

    [Fact]
    public async Task The_database_holds_only_hashes_and_the_outbox_only_an_encrypted_token_erased_once_sent()
    {
        var tenant = await app.CreateTenantAsync();
        var invitations = new List<InvitationSetup>();
        for (var i = 0; i < 3; i++)
        {
            invitations.Add(await app.InviteAsync(tenant));
        }
        for (var round = 2; round <= 3; round++)
        {
            app.Clock.Advance(TimeSpan.FromMinutes(2));
            foreach (var invitation in invitations)
            {
                (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
                await app.WaitForEmailAsync(invitation.Email, round);
            }
        }
        var latest = invitations.Select(i => Mailbox.TokenFrom(app.Mail.To(i.Email).Last())).ToArray();
        (await app.PostAsync("/invitation/accept", new { token = latest[0] })).AssertSuccess();
        (await app.PostAsync("/invitation/decline", new { token = latest[1] })).AssertSuccess();
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={invitations[2].Id}", tenant.OwnerToken)).AssertSuccess();
        var tokens = new[] { tenant.OwnerEmail }.Concat(invitations.Select(i => i.Email)).SelectMany(app.Mail.To).Select(Mailbox.TokenFrom).ToArray();
        Assert.Equal(10, tokens.Distinct().Count()); // the Owner's and three sends of each of three invitations

        // Queued, the token was written encrypted: the INSERT's value is a Data Protection payload that opens to the token.
        var outbox = app.Services.GetRequiredService<EmailOutbox>();
        var protectedTokens = app.Commands.All.Where(c => c.Sql.Contains("outbox_messages", StringComparison.Ordinal) && c.Sql.Contains("INSERT", StringComparison.Ordinal))
            .SelectMany(c => c.Parameters).Select(p => p[(p.IndexOf('=', StringComparison.Ordinal) + 1)..])
            .Where(v => v.StartsWith("CfDJ8", StringComparison.Ordinal)).ToArray();
        Assert.Subset(protectedTokens.Select(outbox.UnprotectToken).ToHashSet(), tokens.ToHashSet());
        // Sent, it is erased.
        await Eventually.ValueAsync(() => app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.ProtectedToken != null)), n => n == 0);

        var cells = await AllCellsAsync();
        foreach (var token in tokens)
        {
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.ASCII.GetBytes(token)));
            var random = Convert.ToHexString(System.Buffers.Text.Base64Url.DecodeFromChars(token));
            var ascii = Convert.ToHexString(Encoding.ASCII.GetBytes(token));
            Assert.DoesNotContain(cells, c => c.Value.Contains(token, StringComparison.Ordinal));
            Assert.DoesNotContain(cells, c => c.Value.Contains(random, StringComparison.OrdinalIgnoreCase) || c.Value.Contains(ascii, StringComparison.OrdinalIgnoreCase));
            // Each token is there exactly once, as its hash: the current one on its invitation, a replaced one among the superseded.
            Assert.Single(cells, c => c.Value == hash && c.Column is "invitations.token_hash" or "superseded_tokens.hash");
        }
    }

    [Theory]
    [InlineData("expired")]
    [InlineData("superseded")]
    [InlineData("revoked")]
    [InlineData("accepted")]
    [InlineData("declined")]
    public async Task A_lapsed_or_used_token_fails_on_every_endpoint_and_the_accept_page_and_changes_nothing(string state)
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var (status, code) = state switch
        {
            "expired" => (HttpStatusCode.Gone, "InvitationExpired"),
            "superseded" => (HttpStatusCode.Gone, "InvitationSuperseded"),
            _ => (HttpStatusCode.Conflict, "InvitationNotPending"),
        };
        switch (state)
        {
            case "expired":
                app.Clock.Advance(TimeSpan.FromDays(8));
                break;
            case "superseded":
                app.Clock.Advance(TimeSpan.FromMinutes(2));
                (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
                break;
            case "revoked":
                (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={invitation.Id}", tenant.OwnerToken)).AssertSuccess();
                break;
            default:
                (await app.PostAsync(state == "accepted" ? "/invitation/accept" : "/invitation/decline", new { token = invitation.Token })).AssertSuccess();
                break;
        }
        // The page's antiforgery token comes from another, pending invitation's page, opened by the same browser.
        using var browser = app.CreateClient();
        var pending = await app.InviteAsync(tenant);
        var form = AntiforgeryField().Match(await browser.GetStringAsync($"/accept?token={pending.Token}"));
        Assert.True(form.Success);
        var before = await StateAsync(tenant.Id);

        foreach (var endpoint in new[] { "accept", "decline" })
        {
            var answer = await app.PostAsync($"/invitation/{endpoint}", new { token = invitation.Token });
            answer.AssertError(status, code);
            if (code == "InvitationNotPending")
            {
                Assert.Equal([$"status: {char.ToUpperInvariant(state[0])}{state[1..]}"], answer.ErrorInfo);
            }
            var page = await browser.PostAsync($"/accept?token={invitation.Token}", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["decision"] = endpoint,
                [form.Groups["name"].Value] = form.Groups["value"].Value,
            }));
            Assert.Equal(state is "accepted" or "declined" ? HttpStatusCode.Conflict : HttpStatusCode.Gone, page.StatusCode);
            Assert.DoesNotContain("<form", await page.Content.ReadAsStringAsync());
        }
        var shown = await browser.GetAsync($"/accept?token={invitation.Token}");
        Assert.Equal(state is "accepted" or "declined" ? HttpStatusCode.OK : HttpStatusCode.Gone, shown.StatusCode);
        Assert.DoesNotContain("<form", await shown.Content.ReadAsStringAsync());
        var preview = await app.GetAsync($"/invitation?token={invitation.Token}");
        if (state == "superseded")
        {
            preview.AssertError(HttpStatusCode.Gone, "InvitationSuperseded");
        }
        else
        {
            Assert.Equal(char.ToUpperInvariant(state[0]) + state[1..], preview.AssertSuccess().GetProperty("status").GetString());
        }
        Assert.Equal(before, await StateAsync(tenant.Id));
    }

    [Fact]
    public async Task Every_unknown_token_gets_the_same_answer_through_the_same_queries_by_hash()
    {
        var tenant = await app.CreateTenantAsync();
        var live = await app.InviteAsync(tenant);
        var replaced = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        (await app.PutAsync(Scenarios.ResendPath(tenant, replaced.Id), tenant.OwnerToken)).AssertSuccess();
        var unknown = new Dictionary<string, string>
        {
            ["random"] = InvitationToken.New().Value,
            ["all A"] = new string('A', InvitationToken.Length),
            ["a live token with one character changed"] = OneCharacterOff(live.Token),
            ["a superseded token with one character changed"] = OneCharacterOff(replaced.Token),
        };
        var before = await StateAsync(tenant.Id);

        foreach (var (method, path, body) in new (HttpMethod, string, Func<string, object?>)[]
        {
            (HttpMethod.Get, "/invitation?token={0}", _ => null),
            (HttpMethod.Post, "/invitation/accept", t => new { token = t }),
            (HttpMethod.Post, "/invitation/decline", t => new { token = t }),
            (HttpMethod.Get, "/accept?token={0}", _ => null),
        })
        {
            var answers = new List<(string Kind, string Answer, string[] Queries)>();
            foreach (var (kind, token) in unknown)
            {
                var (traceId, headers) = TestApp.Traced();
                var response = await app.SendAsync(method, string.Format(path, token), body: body(token), headers: headers);
                var commands = app.Commands.OfTrace(traceId);
                var hash = Convert.ToHexString(SHA256.HashData(Encoding.ASCII.GetBytes(token)));
                Assert.NotEmpty(commands);
                Assert.All(commands, c => Assert.DoesNotContain(token, $"{c.Sql} {string.Join(" ", c.Parameters)}"));
                // Looked up by its hash, in the invitations and then the superseded tokens.
                Assert.Equal(2, commands.Count(c => c.Parameters.Any(p => p.EndsWith($"={hash}", StringComparison.Ordinal))));
                answers.Add((kind, $"{(int)response.Status} {response.ContentHeaders?.ContentType} {response.Body}", [.. commands.Select(c => c.Shape)]));
            }
            var first = answers[0];
            Assert.Contains(path.StartsWith("/accept", StringComparison.Ordinal) ? "404 text/html" : "404 application/json", first.Answer);
            Assert.All(answers, a => Assert.True(a.Answer == first.Answer && a.Queries.SequenceEqual(first.Queries),
                $"{method} {path}: '{a.Kind}' differs from '{first.Kind}':\n{a.Answer}\n{string.Join("\n", a.Queries)}\nvs\n{first.Answer}\n{string.Join("\n", first.Queries)}"));
        }
        (await app.PostAsync("/invitation/accept", new { token = unknown["random"] })).AssertError(HttpStatusCode.NotFound, "NotFound");
        Assert.Equal(before, await StateAsync(tenant.Id));
    }

    private static string OneCharacterOff(string token)
    {
        var middle = token.Length / 2;
        return $"{token[..middle]}{(token[middle] == 'A' ? 'B' : 'A')}{token[(middle + 1)..]}";
    }

    // Every cell of every table, by "table.column": blobs in hex, everything else as text.
    private Task<List<(string Column, string Value)>> AllCellsAsync() => app.QueryAsync(async db =>
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync();
        var cells = new List<(string, string)>();
        foreach (var table in await TestDatabase.TablesAsync(connection))
        {
            await using var select = connection.CreateCommand();
            select.CommandText = $"SELECT * FROM \"{table}\"";
            await using var reader = await select.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    if (!reader.IsDBNull(i))
                    {
                        var value = reader.GetValue(i);
                        cells.Add(($"{table}.{reader.GetName(i)}", value is byte[] blob ? Convert.ToHexString(blob) : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? ""));
                    }
                }
            }
        }
        return cells;
    });

    // Everything a refused answer must leave alone in the tenant.
    private Task<string> StateAsync(long tenantId) => app.QueryAsync(async db =>
    {
        var invitations = await db.Invitations.IgnoreQueryFilters().Where(i => i.TenantId == tenantId).OrderBy(i => i.Id)
            .Select(i => $"{i.Id} {i.Status} {i.Version}").ToListAsync();
        var members = await db.Memberships.IgnoreQueryFilters().CountAsync(m => m.TenantId == tenantId);
        var audits = await db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TenantId == tenantId);
        var users = await db.Users.CountAsync();
        return $"{string.Join(", ", invitations)}; {members} members, {audits} audit events, {users} users";
    });

    [System.Text.RegularExpressions.GeneratedRegex("""<input type="hidden" name="(?<name>_antiforgery)" value="(?<value>[^"]+)">""")]
    private static partial System.Text.RegularExpressions.Regex AntiforgeryField();
}
