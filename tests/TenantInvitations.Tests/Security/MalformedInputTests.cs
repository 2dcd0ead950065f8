using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Email;

namespace TenantInvitations.Tests;

// A generated sweep of malformed requests over every endpoint. Each must be refused with a 4xx failure envelope (never a 5xx,
// never a success), and together they must leave every table and the mail folder exactly as they were.
public sealed class MalformedInputTests(TestApp app) : IClassFixture<TestApp>
{
    private const string JsonType = "application/json";
    private static readonly string Huge = new('x', 100_000);
    private static readonly HttpMethod Get = HttpMethod.Get, Post = HttpMethod.Post, Put = HttpMethod.Put, Delete = HttpMethod.Delete,
        Patch = HttpMethod.Patch;

    // The codes of the API.md table, by status. 405 and 415 are the codes Api/ErrorHandling.cs gives those statuses.
    private static readonly Dictionary<int, string[]> CodesByStatus = new()
    {
        [400] = ["ValidationError"],
        [401] = ["Unauthorized"],
        [403] = ["Forbidden", "EmailMismatch"],
        [404] = ["NotFound"],
        [405] = ["MethodNotAllowed"],
        [409] = ["InvitationNotPending", "AlreadyInvited", "AlreadyMember", "LastOwner"],
        [410] = ["InvitationExpired", "InvitationSuperseded"],
        [413] = ["PayloadTooLarge"],
        [415] = ["UnsupportedMediaType"],
        [429] = ["RateLimited"],
    };

    [Fact]
    public async Task Every_endpoint_refuses_malformed_requests_with_a_4xx_envelope_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var pending = await app.InviteAsync(tenant);
        var member = await app.AddMemberAsync(tenant, "Member");
        // Someone who joined through the email link without signing in: their user has no subject yet.
        var linkJoiner = await app.InviteAsync(tenant);
        (await app.PostAsync("/invitation/accept", new { token = linkJoiner.Token })).AssertSuccess();
        // Disabled, so nothing is delivered to them in the background while the sweep runs.
        var webhook = await app.CreateWebhookAsync(tenant, "https://192.0.2.1/sweep");
        (await app.PutAsync(webhook.Path, tenant.OwnerToken, new { enabled = false })).AssertSuccess();
        var platformWebhook = await app.CreateWebhookAsync(null, "https://192.0.2.1/sweep");
        (await app.PutAsync(platformWebhook.Path, app.PlatformAdminToken, new { enabled = false })).AssertSuccess();
        CurrentWebhook = webhook.Id.ToString();
        await OutboxSettledAsync();
        var before = await SnapshotAsync();
        Assert.Superset(new HashSet<string> { "tenants", "users", "memberships", "invitations", "superseded_tokens", "audit_events", "outbox_messages" },
            before.Keys.ToHashSet());
        var emailsBefore = app.Mail.All().Length;

        var known = new Known(tenant.Id, pending.Id, member.UserId, $"Bearer {tenant.OwnerToken}", $"Bearer {app.PlatformAdminToken}",
            $"Bearer {member.Token}", $"Bearer {TestApp.Token("sub-outsider", Scenarios.UniqueEmail("outsider"))}", tenant.OwnerEmail, platformWebhook.Id);
        var cases = Generate(known).ToList();
        Assert.True(cases.Count >= 1500, $"Only {cases.Count} cases were generated.");
        Assert.Contains(cases, c => c.Path.StartsWith("/webhooks/", StringComparison.Ordinal) && c.What.StartsWith("id=", StringComparison.Ordinal));
        Assert.Contains(cases, c => c.Path.Contains("/admin/events?after=", StringComparison.Ordinal));

        var problems = new List<string>();
        using var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        foreach (var sweepCase in cases)
        {
            if (await CheckAsync(client, sweepCase) is { } problem)
            {
                problems.Add($"{sweepCase}: {problem}");
            }
        }

        await OutboxSettledAsync();
        var after = await SnapshotAsync();
        problems.AddRange(DatabaseSnapshot.Differences(before, after));
        var emailsAfter = app.Mail.All().Length;
        if (emailsAfter != emailsBefore)
        {
            problems.Add($"{emailsAfter - emailsBefore} email(s) appeared in the pickup folder.");
        }
        Assert.True(problems.Count == 0, $"{problems.Count} problem(s) in {cases.Count} malformed requests:\n{string.Join("\n", problems.Take(200))}"
            + (problems.Count > 200 ? $"\n…and {problems.Count - 200} more." : ""));
    }

    private sealed record Known(long TenantId, long InvitationId, long MemberId, string Owner, string PlatformAdmin, string Member,
        string Outsider, string OwnerEmail, long PlatformWebhookId);

    private sealed record Case(string What, HttpMethod Method, string Path, string Who, string? Authorization,
        string? Body = null, string? ContentType = JsonType, bool MaySucceed = false, byte[]? RawBody = null)
    {
        public override string ToString() =>
            $"[{What}] {Method} {Shorten(Path)} as {Who}"
            + (RawBody is not null ? $" with {RawBody.Length} raw bytes ({ContentType ?? "no Content-Type"})"
                : Body is not null ? $" with {Shorten(Body)} ({ContentType ?? "no Content-Type"})" : " with no body");
    }

    // One endpoint of API.md, with {t}, {id}, {member}, {webhook} and {delivery} standing for the tenant id, an invitation id, a
    // member's user id, a webhook endpoint's id and a delivery's id (junk ids go into every id placeholder at once).
    private sealed record Route(HttpMethod Method, string Template, Func<string>? ValidBody = null)
    {
        public string Fill(string tenantId, string invitationId, string memberId, string? webhookId = null, string? deliveryId = null) =>
            Template.Replace("{t}", tenantId).Replace("{id}", invitationId).Replace("{member}", memberId)
                .Replace("{webhook}", webhookId ?? CurrentWebhook).Replace("{delivery}", deliveryId ?? UnknownDelivery);

        public bool TakesId => Has("{id}") || Has("{member}") || Has("{webhook}");

        public bool Has(string placeholder) => Template.Contains(placeholder, StringComparison.Ordinal);
    }

    private static string Fresh() => Scenarios.UniqueEmail("sweep");

    // The tenant's (disabled) webhook endpoint made for the sweep, and a delivery id that names nothing.
    private static string CurrentWebhook = "0";
    private const string UnknownDelivery = "987654321";
    private const string SweepHook = """{"url":"https://192.0.2.1/sweep"}""";

    private static readonly Route[] TenantRoutes =
    [
        new(Get, "/tenant/{t}/admin/user/invitation"),
        new(Get, "/tenant/{t}/admin/user/invitation/{id}"),
        new(Post, "/tenant/{t}/admin/user/invitation", () => Obj(("email", S(Fresh())))),
        new(Put, "/tenant/{t}/admin/user/invitation/resend?id={id}"),
        new(Put, "/api/tenant/{t}/invitations/resend?id={id}"),
        new(Put, "/tenant/{t}/admin/user/invitation/revoke?id={id}"),
        new(Get, "/tenant/{t}/admin/user"),
        new(Put, "/tenant/{t}/admin/user/role?id={member}", () => """{"role":"Admin"}"""),
        new(Delete, "/tenant/{t}/admin/user?id={member}"),
        new(Get, "/tenant/{t}/admin/user/invitation/{id}/email"),
        new(Get, "/tenant/{t}/admin/user/invitation/{id}/history"),
        new(Get, "/tenant/{t}/admin/audit"),
        new(Get, "/tenant/{t}/admin/settings"),
        new(Put, "/tenant/{t}/admin/settings", () => """{"displayName":"Renamed by the sweep"}"""),
        new(Get, "/tenant/{t}"),
        new(Put, "/tenant/{t}", () => """{"name":"Renamed by the sweep"}"""),
        new(Get, "/tenant/{t}/admin/events"),
        new(Post, "/tenant/{t}/admin/webhooks", () => SweepHook),
        new(Get, "/tenant/{t}/admin/webhooks"),
        new(Get, "/tenant/{t}/admin/webhooks/{webhook}"),
        new(Put, "/tenant/{t}/admin/webhooks/{webhook}", () => """{"description":"Changed by the sweep"}"""),
        new(Delete, "/tenant/{t}/admin/webhooks/{webhook}"),
        new(Post, "/tenant/{t}/admin/webhooks/{webhook}/rotate-secret"),
        new(Post, "/tenant/{t}/admin/webhooks/{webhook}/test"),
        new(Get, "/tenant/{t}/admin/webhooks/{webhook}/deliveries"),
        new(Post, "/tenant/{t}/admin/webhooks/{webhook}/deliveries/{delivery}/retry"),
    ];

    // The platform's endpoints, with {webhook} standing for a platform endpoint's id.
    private static readonly Route[] PlatformRoutes =
    [
        new(Get, "/events"),
        new(Get, "/tenant"),
        new(Post, "/webhooks", () => SweepHook),
        new(Get, "/webhooks"),
        new(Get, "/webhooks/{webhook}"),
        new(Put, "/webhooks/{webhook}", () => """{"description":"Changed by the sweep"}"""),
        new(Delete, "/webhooks/{webhook}"),
        new(Post, "/webhooks/{webhook}/rotate-secret"),
        new(Post, "/webhooks/{webhook}/test"),
        new(Get, "/webhooks/{webhook}/deliveries"),
        new(Post, "/webhooks/{webhook}/deliveries/{delivery}/retry"),
    ];

    // Ids in a path or query, already URL-encoded: words, signs, fractions, overflow, control and invisible characters.
    // (%00 is only sent in a query: in a path the server itself refuses it before the app sees the request.)
    private static readonly string[] JunkIds =
    [
        "abc", "0", "-1", "-0", "1.5", "1e3", "0x1F", "9223372036854775808", "-9223372036854775809", "99999999999999999999999999",
        new string('9', 100_000), "%00", "%20", "%0D%0A", "null", "true", "%F0%9F%98%80", "%E2%80%8F1", "1%2F2", "%D9%A1", "%ED%A0%80", "1,2",
    ];

    // An invitation token that is well formed but was never issued.
    private static readonly string UnknownToken = new('A', 43);

    private static IEnumerable<Case> Generate(Known k)
    {
        var (t, id, mid) = (k.TenantId.ToString(), k.InvitationId.ToString(), k.MemberId.ToString());
        (string Who, string? Header) asOwner = ("owner", k.Owner), asAdmin = ("platform admin", k.PlatformAdmin), asNobody = ("anonymous", null);

        // Bad credentials on every endpoint with otherwise valid input: 401, or 403 for a signed-in caller without the right.
        foreach (var route in TenantRoutes)
        {
            var path = route.Fill(t, id, mid);
            foreach (var (label, header) in BadTokens.Headers(k.OwnerEmail))
            {
                yield return new Case("bad credentials", route.Method, path, label, header, route.ValidBody?.Invoke());
            }
            yield return new Case("outsider", route.Method, path, "a signed-in outsider", k.Outsider, route.ValidBody?.Invoke());
            if (route.Template != "/tenant/{t}")
            {
                yield return new Case("plain member", route.Method, path, "a Member", k.Member, route.ValidBody?.Invoke());
            }
        }
        foreach (var (label, header) in BadTokens.Headers(k.OwnerEmail))
        {
            yield return new Case("bad credentials", Post, "/tenant", label, header, Obj(("name", S("Sweep")), ("ownerEmail", S(Fresh()))));
            yield return new Case("bad credentials", Get, "/me/tenants", label, header);
        }
        yield return new Case("not a platform admin", Post, "/tenant", "the owner", k.Owner, Obj(("name", S("Sweep")), ("ownerEmail", S(Fresh()))));
        foreach (var (label, header) in BadTokens.Headers(k.OwnerEmail).Skip(1))
        {
            yield return new Case("bad credentials", Post, "/invitation/accept", label, header, Obj(("token", S(UnknownToken))));
        }

        // Wrong methods on known paths, and paths that do not exist.
        string[] knownPaths =
        [
            $"/tenant/{t}/admin/user/invitation", $"/tenant/{t}/admin/user/invitation/{id}", $"/tenant/{t}/admin/user/invitation/resend?id={id}",
            $"/api/tenant/{t}/invitations/resend?id={id}", $"/tenant/{t}/admin/user/invitation/revoke?id={id}", $"/tenant/{t}/admin/user",
            $"/tenant/{t}/admin/user/role?id={mid}", $"/tenant/{t}/admin/user/invitation/{id}/email", $"/tenant/{t}/admin/user/invitation/{id}/history",
            $"/tenant/{t}/admin/audit", $"/tenant/{t}/admin/settings", "/tenant", $"/tenant/{t}", "/me/tenants", "/invitation",
            "/invitation/accept", "/invitation/decline",
        ];
        foreach (var path in knownPaths)
        {
            yield return new Case("wrong method", Patch, path, asOwner.Who, asOwner.Header, "{}");
        }
        (HttpMethod, string)[] wrongMethods =
        [
            (Get, $"/tenant/{t}/admin/user/invitation/resend?id={id}"), (Delete, $"/tenant/{t}/admin/settings"), (Post, $"/tenant/{t}/admin/settings"),
            (Get, "/invitation/accept"), (Put, "/invitation"), (Delete, $"/tenant/{t}"), (Post, "/me/tenants"), (Get, $"/tenant/{t}/admin/user/invitation/revoke?id={id}"),
            (Post, $"/tenant/{t}/admin/audit"), (Delete, $"/tenant/{t}/admin/user/invitation/{id}"), (Get, "/invitation/decline"), (Put, "/tenant"),
        ];
        foreach (var (method, path) in wrongMethods)
        {
            yield return new Case("wrong method", method, path, asOwner.Who, asOwner.Header);
            yield return new Case("wrong method", method, path, asNobody.Who, asNobody.Header);
        }
        foreach (var path in new[] { "/nope", $"/tenant/{t}/admin/nope", $"/tenant/{t}/admin/user/invitation/{id}/nope", "/api/tenant", $"/tenant/{t}/admin/user/invitation//email" })
        {
            yield return new Case("unknown route", Get, path, asOwner.Who, asOwner.Header);
        }

        // Junk tenant ids on every tenant endpoint; then ids that are well formed but name no tenant.
        var n = 0;
        foreach (var route in TenantRoutes)
        {
            foreach (var junk in JunkIds.Where(j => j != "%00"))
            {
                var who = n++ % 7 == 0 ? asNobody : n % 2 == 0 ? asOwner : asAdmin;
                yield return new Case($"tenantId={Shorten(junk, 20)}", route.Method, route.Fill(junk, id, mid), who.Who, who.Header, route.ValidBody?.Invoke());
            }
            foreach (var who in new[] { asOwner, asAdmin })
            {
                yield return new Case("unknown tenant", route.Method, route.Fill("987654321", id, mid), who.Who, who.Header, route.ValidBody?.Invoke());
            }
        }

        // Junk invitation and member ids; ids that are missing, empty, repeated or name nothing in this tenant.
        foreach (var route in TenantRoutes.Where(r => r.TakesId))
        {
            var inQuery = route.Template.Contains("?id=", StringComparison.Ordinal);
            foreach (var junk in JunkIds.Where(j => inQuery || j != "%00"))
            {
                var who = n++ % 7 == 0 ? asNobody : n % 2 == 0 ? asOwner : asAdmin;
                yield return new Case($"id={Shorten(junk, 20)}", route.Method, route.Fill(t, junk, junk, junk, junk), who.Who, who.Header, route.ValidBody?.Invoke());
            }
            yield return new Case("unknown id", route.Method, route.Fill(t, "987654321", "987654321", "987654321"), asOwner.Who, asOwner.Header,
                route.ValidBody?.Invoke());
            yield return new Case("id of the other kind", route.Method, route.Fill(t, mid, id, id), asAdmin.Who, asAdmin.Header, route.ValidBody?.Invoke());
            if (inQuery)
            {
                var bare = route.Template[..route.Template.IndexOf('?')].Replace("{t}", t);
                var real = route.Has("{id}") ? id : mid;
                foreach (var query in new[] { "", "?id=", "?id", $"?id={real}&id={real}", "?Id=abc", "?id[]=1", $"?ids={real}" })
                {
                    yield return new Case($"id query '{query}'", route.Method, bare + query, asOwner.Who, asOwner.Header, route.ValidBody?.Invoke());
                }
            }
        }

        // The platform's endpoints: bad credentials, a tenant's Owner, junk and unknown ids, another tenant's endpoint.
        foreach (var route in PlatformRoutes)
        {
            var path = route.Fill(t, id, mid, k.PlatformWebhookId.ToString());
            foreach (var (label, header) in BadTokens.Headers(k.OwnerEmail))
            {
                yield return new Case("bad credentials", route.Method, path, label, header, route.ValidBody?.Invoke());
            }
            yield return new Case("not a platform admin", route.Method, path, asOwner.Who, asOwner.Header, route.ValidBody?.Invoke());
            if (route.TakesId)
            {
                foreach (var junk in JunkIds.Where(j => j != "%00"))
                {
                    yield return new Case($"id={Shorten(junk, 20)}", route.Method, route.Fill(t, id, mid, junk, junk), asAdmin.Who, asAdmin.Header, route.ValidBody?.Invoke());
                }
                yield return new Case("unknown id", route.Method, route.Fill(t, id, mid, "987654321"), asAdmin.Who, asAdmin.Header, route.ValidBody?.Invoke());
                yield return new Case("a tenant's endpoint", route.Method, route.Fill(t, id, mid, CurrentWebhook), asAdmin.Who, asAdmin.Header, route.ValidBody?.Invoke());
            }
        }
        foreach (var tenantFilter in new[] { "0", "-1", "abc", "1.5", "9223372036854775808", "%00", Huge })
        {
            yield return new Case($"tenantId={Shorten(tenantFilter, 20)}", Get, $"/events?tenantId={tenantFilter}", asAdmin.Who, asAdmin.Header);
        }
        foreach (var type in new[] { "nope", "webhook.test", "", "%00", "INVITATION.CREATED", Huge, "invitation.created%0D%0A" })
        {
            yield return new Case($"type={Shorten(type, 20)}", Get, $"/tenant/{t}/admin/events?type={type}", asOwner.Who, asOwner.Header);
        }

        // Junk paging, filter and cursor parameters. A filter that is merely odd may find nothing (200), but never a 5xx.
        foreach (var list in new[] { $"/tenant/{t}/admin/user/invitation", $"/tenant/{t}/admin/user", $"/tenant/{t}/admin/audit", $"/tenant/{t}/admin/events",
            "/events", $"/tenant/{t}/admin/webhooks/{CurrentWebhook}/deliveries" })
        {
            foreach (var limit in new[] { "abc", "0", "-1", "101", "1.5", "2147483648", "9223372036854775808", "1e2", "0x10", "%00", "%20", "true", "%ED%A0%80", new string('1', 100_000) })
            {
                yield return new Case($"limit={Shorten(limit, 20)}", Get, $"{list}?limit={limit}", asOwner.Who, asOwner.Header);
            }
            string[] cursors =
            [
                "!!!", "abc", Cursor("abc.def"), Cursor("1.2.3"), Cursor("-1.5"), Cursor("1"), Cursor("99999999999999999999.1"),
                Cursor("3155378976000000000.1"), Cursor("1.99999999999999999999"), Cursor(" 1.1"), Cursor("1.1.1"), "%00", "====", "a", Huge, "%ED%A0%80",
                Uri.EscapeDataString(Convert.ToBase64String(Encoding.ASCII.GetBytes("638000000000000000.5"))) + "%2B%2F",
            ];
            foreach (var after in cursors)
            {
                yield return new Case($"after={Shorten(after, 20)}", Get, $"{list}?after={after}", asAdmin.Who, asAdmin.Header);
            }
            yield return new Case("two problems", Get, $"{list}?limit=0&after=!!!", asOwner.Who, asOwner.Header);
            yield return new Case("unknown parameter", Get, $"{list}?foo=bar&limit=5", asOwner.Who, asOwner.Header, MaySucceed: true);
            yield return new Case("empty limit", Get, $"{list}?limit=", asOwner.Who, asOwner.Header, MaySucceed: true);
        }
        foreach (var status in new[] { "Bogus", "1", "99", "-1", "Pending,Accepted", "Accepted,Declined", "%00", "%ED%A0%80", Huge, "Pending%00" })
        {
            yield return new Case($"status={Shorten(status, 20)}", Get, $"/tenant/{t}/admin/user/invitation?status={status}", asOwner.Who, asOwner.Header);
        }
        foreach (var email in new[] { new string('e', 255), Huge, new string('e', 250) + "%40example.test" })
        {
            yield return new Case("email filter too long", Get, $"/tenant/{t}/admin/user/invitation?email={email}", asOwner.Who, asOwner.Header);
        }
        foreach (var email in new[] { "%00", "a%0D%0Ab", "%ED%A0%80", "not-an-email", "%27%20OR%201%3D1%20--", "%F0%9F%98%80", "" })
        {
            yield return new Case("odd email filter", Get, $"/tenant/{t}/admin/user/invitation?email={email}", asOwner.Who, asOwner.Header, MaySucceed: true);
        }
        foreach (var action in new[] { new string('a', 65), Huge })
        {
            yield return new Case("action filter too long", Get, $"/tenant/{t}/admin/audit?action={action}", asOwner.Who, asOwner.Header);
        }
        foreach (var action in new[] { "%00", "a%0D%0Ab", "%27%3B%20DROP%20TABLE%20audit_events%3B%20--", "%E2%80%8F", "" })
        {
            yield return new Case("odd action filter", Get, $"/tenant/{t}/admin/audit?action={action}", asOwner.Who, asOwner.Header, MaySucceed: true);
        }
        yield return new Case("junk query", Get, "/me/tenants?limit=abc&after=!!!", asOwner.Who, asOwner.Header, MaySucceed: true);

        // Junk invitation tokens in the query of the public preview.
        string[] queryTokens =
        [
            "", "?token", "?token=", "?token=short", $"?token={new string('A', 42)}", $"?token={new string('A', 44)}", $"?token={new string('!', 43)}",
            $"?token={new string('A', 42)}%00", $"?token={new string('A', 42)}%2B", $"?token={new string('A', 41)}%ED%A0%80", $"?token={Huge}",
            $"?token={UnknownToken}&token={UnknownToken}", $"?token={new string('A', 40)}%3D%3D%3D", $"?token={UnknownToken}",
            $"?token={new string('A', 41)}%F0%9F%98%80",
        ];
        foreach (var query in queryTokens)
        {
            yield return new Case("preview token", Get, $"/invitation{query}", asNobody.Who, asNobody.Header);
            yield return new Case("preview token", Get, $"/invitation{query}", asOwner.Who, asOwner.Header);
        }

        // Bodies: whatever is not a JSON object of the right shape, on every endpoint that reads one.
        var bodyEndpoints = new (HttpMethod Method, string Path, string Field, Func<string> Valid, (string Who, string? Header) Caller)[]
        {
            (Post, $"/tenant/{t}/admin/user/invitation", "email", () => Obj(("email", S(Fresh()))), asOwner),
            (Put, $"/tenant/{t}/admin/user/role?id={mid}", "role", () => """{"role":"Admin"}""", asOwner),
            (Put, $"/tenant/{t}/admin/settings", "displayName", () => """{"displayName":"Renamed by the sweep"}""", asAdmin),
            (Post, "/tenant", "name", () => Obj(("name", S("Sweep")), ("ownerEmail", S(Fresh()))), asAdmin),
            (Post, "/invitation/accept", "token", () => Obj(("token", S(UnknownToken))), asNobody),
            (Post, "/invitation/decline", "token", () => Obj(("token", S(UnknownToken))), asOwner),
            (Post, $"/tenant/{t}/admin/webhooks", "url", () => SweepHook, asOwner),
            (Put, $"/tenant/{t}/admin/webhooks/{CurrentWebhook}", "description", () => """{"description":"Changed by the sweep"}""", asOwner),
            (Post, "/webhooks", "url", () => SweepHook, asAdmin),
        };
        foreach (var (method, path, field, valid, caller) in bodyEndpoints)
        {
            Case Body(string what, string? body, string? contentType = JsonType) => new(what, method, path, caller.Who, caller.Header, body, contentType);
            Case Raw(string what, byte[] bytes, string? contentType = JsonType) => new(what, method, path, caller.Who, caller.Header, null, contentType, RawBody: bytes);

            yield return Body("no body", null, null);
            yield return Body("empty body", "");
            yield return Body("whitespace body", "   \r\n ");
            yield return Body("not JSON", "nope");
            yield return Body("truncated object", "{");
            yield return Body("truncated after a name", $"{{\"{field}\":");
            yield return Body("truncated string", $"{{\"{field}\":\"abc");
            yield return Body("unquoted names", $"{{{field}: \"a\"}}");
            yield return Body("single quotes", $"{{'{field}': 'a'}}");
            yield return Body("trailing comma", $"{{\"{field}\": \"a\",}}");
            yield return Body("a comment", "{/* comment */}");
            yield return Body("two objects", "{}{}");
            yield return Body("JSON null", "null");
            yield return Body("an array", "[]");
            yield return Body("an array of objects", "[{}]");
            yield return Body("a string", "\"text\"");
            yield return Body("a number", "42");
            yield return Body("a huge number", "1e400");
            yield return Body("a boolean", "true");
            yield return Body("deeply nested arrays", $"{{\"{field}\":{new string('[', 10_000)}{new string(']', 10_000)}}}");
            yield return Body("deeply nested objects", string.Concat(Enumerable.Repeat($"{{\"{field}\":", 200)) + "1" + new string('}', 200));
            yield return Body("text/plain", valid(), "text/plain");
            yield return Body("a form", $"{field}=a%40example.test", "application/x-www-form-urlencoded");
            yield return Body("multipart", $"--b\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\na\r\n--b--\r\n", "multipart/form-data; boundary=b");
            yield return Body("XML", $"<{field}>a</{field}>", "application/xml");
            yield return Body("no Content-Type", valid(), null);
            yield return Body("unknown charset", valid(), "application/json; charset=bogus");
            yield return Body("UTF-8 labelled UTF-16", valid(), "application/json; charset=utf-16");
            yield return Body("UTF-7, which the platform cannot decode", valid(), "application/json; charset=utf-7");
            yield return Body("Latin-1", valid(), "application/json; charset=\"iso-8859-1\"");
            yield return Body("an empty charset", valid(), "application/json; charset=");
            yield return Body("an empty quoted charset", valid(), "application/json; charset=\"\"");
            yield return Raw("invalid UTF-8", [.. Encoding.ASCII.GetBytes($"{{\"{field}\":\""), 0xFF, 0xFE, (byte)'"', (byte)'}']);
            yield return Raw("UTF-8 encoded surrogate", [.. Encoding.ASCII.GetBytes($"{{\"{field}\":\""), 0xED, 0xA0, 0x80, (byte)'"', (byte)'}']);
            yield return Raw("raw NUL in a string", [.. Encoding.ASCII.GetBytes($"{{\"{field}\":\"a"), 0x00, (byte)'"', (byte)'}']);
            var sample = valid();
            yield return Body("every property twice", $"{sample[..^1]},{sample[1..]}");
            yield return Body("a property twice in another case", $"{sample[..^1]},\"{char.ToUpperInvariant(field[0])}{field[1..]}\":null}}");
            foreach (var wrong in WrongTypes)
            {
                yield return Body($"{field} of the wrong type", $"{{\"{field}\":{wrong}}}");
            }
        }

        foreach (var body in InvitationBodies())
        {
            yield return new Case("invitation body", Post, $"/tenant/{t}/admin/user/invitation", asOwner.Who, asOwner.Header, body);
        }
        foreach (var body in SettingsBodies())
        {
            yield return new Case("settings body", Put, $"/tenant/{t}/admin/settings", asOwner.Who, asOwner.Header, body);
        }
        foreach (var body in TenantBodies())
        {
            yield return new Case("tenant body", Post, "/tenant", asAdmin.Who, asAdmin.Header, body);
        }
        foreach (var body in WebhookBodies())
        {
            yield return new Case("webhook body", Post, $"/tenant/{t}/admin/webhooks", asOwner.Who, asOwner.Header, body);
            yield return new Case("webhook body", Put, $"/tenant/{t}/admin/webhooks/{CurrentWebhook}", asOwner.Who, asOwner.Header, body);
        }
        foreach (var enabled in new[] { "\"yes\"", "1", "{}", "[]", "\"true\"", "null" })
        {
            yield return new Case("webhook body", Put, $"/tenant/{t}/admin/webhooks/{CurrentWebhook}", asOwner.Who, asOwner.Header, $"{{\"enabled\":{enabled}}}",
                MaySucceed: enabled == "null");
        }
        foreach (var body in TokenBodies())
        {
            yield return new Case("accept body", Post, "/invitation/accept", asNobody.Who, asNobody.Header, body);
            yield return new Case("decline body", Post, "/invitation/decline", asOwner.Who, asOwner.Header, body);
        }
        foreach (var role in RoleJunk.Append("null"))
        {
            yield return new Case("role body", Put, $"/tenant/{t}/admin/user/role?id={mid}", asOwner.Who, asOwner.Header, $"{{\"role\":{role}}}");
        }
        yield return new Case("role body", Put, $"/tenant/{t}/admin/user/role?id={mid}", asAdmin.Who, asAdmin.Header, "{}");
        yield return new Case("role body", Put, $"/tenant/{t}/admin/user/role?id={mid}", asAdmin.Who, asAdmin.Header, """{"Role":"Admin","role":"Member"}""");

        // Last, because a service that reads "1\r\n" as 1 acts on the real tenant: real ids with a line break after them.
        foreach (var route in TenantRoutes)
        {
            yield return new Case("tenantId with CR/LF", route.Method, route.Fill($"{t}%0D%0A", id, mid), asOwner.Who, asOwner.Header, route.ValidBody?.Invoke());
        }
        foreach (var route in TenantRoutes.Where(r => r.TakesId))
        {
            yield return new Case("id with CR/LF", route.Method, route.Fill(t, $"{id}%0D%0A", $"{mid}%0D%0A", $"{CurrentWebhook}%0D%0A"), asOwner.Who,
                asOwner.Header, route.ValidBody?.Invoke());
        }
        foreach (var route in PlatformRoutes.Where(r => r.TakesId))
        {
            yield return new Case("id with CR/LF", route.Method, route.Fill(t, id, mid, $"{k.PlatformWebhookId}%0D%0A"), asAdmin.Who, asAdmin.Header,
                route.ValidBody?.Invoke());
        }
    }

    // JSON literals of every type but the expected one (used in place of objects' fields).
    private static readonly string[] WrongTypes = ["123", "-1", "1.5", "true", "false", "{}", "[]", "[\"a\"]", "{\"a\":1}"];

    // JSON string literals that no email field should take: not addresses, several addresses, header injection,
    // control and invisible characters, lone surrogates, and lengths past the limit.
    private static readonly string[] EmailJunk =
    [
        "null", "\"\"", "\"   \"", "\"not-an-email\"", "\"@example.test\"", "\"a@\"", "\"a@@example.test\"", "\"a b@example.test\"",
        "\"a@example.test\\r\\nBcc: victim@example.test\"", "\"a@example.test\\nX-Header: y\"", "\"a\\u0000@example.test\"",
        "\"\\ud800@example.test\"", "\"a@example.test\\udc00\"", "\"a\\u0007@example.test\"", "\"\\u001b[31ma@example.test\"",
        S(Huge + "@example.test"), S(new string('a', 250) + "@example.test"), "\"Name <a@example.test>\"", "\"<a@example.test>\"",
        "\"a@example.test,b@example.test\"", "\"a@example.test;b@example.test\"", "\"a@-example.test\"", "\"a@example..test\"",
        "\"a@exa_mple.test\"", "\"a@\\ud83d\\ude00.test\"", "\"\\u202eevil@example.test\"", "\"\\u200fa@example.test\"", "\"a\\u200b@example.test\"",
    ];

    private static readonly string[] RoleJunk =
    [
        .. WrongTypes, "\"\"", "\"Superuser\"", "\"1\"", "\"-1\"", "\"Admin,Member\"", "\"Owner\\u0000\"", "\"\\ud800\"", S(Huge), "\"\\ud83d\\ude00\"",
        "\"Owner,Member\"",
    ];

    // Webhook endpoints: URLs that are not absolute public http(s) ones, types that are not event types, odd descriptions.
    private static IEnumerable<string> WebhookBodies()
    {
        string[] urls =
        [
            "\"\"", "\"relative/path\"", "\"/hooks\"", "\"ftp://192.0.2.1/x\"", "\"javascript:alert(1)\"", "\"file:///etc/passwd\"",
            "\"https://user:pass@192.0.2.1/\"", "\"https://192.0.2.1/\\u0000\"", S("https://192.0.2.1/" + new string('a', 2000)), S(Huge),
            "\"http://127.0.0.1/\"", "\"http://169.254.169.254/latest\"", "\"http://[::1]/\"", "\"http://10.0.0.1/\"", "\"http://0.0.0.0/\"",
            "\"https://\\ud800.example/\"", "\"https:///\"", "\"https://192.0.2.1:99999/\"", "\"\\u202ehttps://192.0.2.1/\"",
        ];
        foreach (var url in urls.Concat(WrongTypes))
        {
            yield return Obj(("url", url));
        }
        foreach (var types in new[] { "[]", "[\"nope\"]", "[\"webhook.test\"]", "[\"\"]", "[null]", "[1]", "\"member.added\"", "{}", "[[\"member.added\"]]", S(Huge) })
        {
            yield return Obj(("url", SweepHookUrl), ("types", types));
        }
        foreach (var description in new[] { S(new string('d', 501)), S(Huge), "\"a\\u0000b\"", "\"two\\nlines\"", "\"\\ud800\"", "123", "{}", "[]" })
        {
            yield return Obj(("url", SweepHookUrl), ("description", description));
        }
    }

    private const string SweepHookUrl = "\"https://192.0.2.1/sweep\"";

    private static IEnumerable<string> InvitationBodies()
    {
        foreach (var email in EmailJunk.Concat(WrongTypes))
        {
            yield return Obj(("email", email));
        }
        foreach (var role in RoleJunk)
        {
            yield return Obj(("email", S(Fresh())), ("role", role));
        }
        foreach (var days in new[] { "0", "31", "-1", "\"7\"", "7.5", "1e2", "2147483648", "-2147483649", "9223372036854775808", "true", "{}", "[]", "\"\"" })
        {
            yield return Obj(("email", S(Fresh())), ("expiresInDays", days));
        }
        foreach (var message in new[] { "123", "true", "{}", "[]", S(new string('m', 501)), S(Huge), "\"a\\u0000b\"", "\"\\ud800\"", "\"\\u0007bell\"", "\"\\u001b[2J\"" })
        {
            yield return Obj(("email", S(Fresh())), ("message", message));
        }
        foreach (var locale in new[] { "123", "true", "{}", "[]", "\"\"", "\"e\"", "\"en_US\"", "\"en-\"", "\"toolongtool\"", "\"de\\r\\n\"", "\"\\u0000\"", "\"\\ud800\"", S(Huge), "\"\\ud83d\\ude00\"" })
        {
            yield return Obj(("email", S(Fresh())), ("locale", locale));
        }
        yield return "{}";
        yield return """{"role":"Admin","message":"no email"}""";
        yield return Obj(("email", S(Fresh())), ("email", S(Fresh())));
        yield return Obj(("email", S(Fresh())), ("role", "\"Member\""), ("role", "\"Admin\""));
        // Emoji and right-to-left marks are fine in a message; the address is what is wrong here.
        yield return Obj(("email", "\"not-an-email\""), ("message", "\"\\ud83d\\ude00 \\u200f\\u05e9\\u05dc\\u05d5\\u05dd\""));
    }

    private static IEnumerable<string> SettingsBodies()
    {
        foreach (var name in new[] { "123", "true", "{}", "[]", "\"   \"", S(new string('d', 201)), S(Huge), "\"a\\u0000b\"", "\"a\\r\\nb\"", "\"\\ud800\"", "\"\\u0007\"", "\"\\u001b[31m\"" })
        {
            yield return Obj(("displayName", name));
        }
        foreach (var replyTo in EmailJunk.Where(e => e is not "null" and not "\"\"" and not "\"   \"").Concat(WrongTypes))
        {
            yield return Obj(("replyTo", replyTo));
        }
        foreach (var locale in new[] { "123", "true", "{}", "[]", "\"\"", "\"x\"", "\"en_US\"", "\"\\u0000\"", S(Huge) })
        {
            yield return Obj(("defaultLocale", locale));
        }
        foreach (var days in new[] { "0", "31", "-5", "\"7\"", "7.5", "1e3", "2147483648", "true", "{}", "[]" })
        {
            yield return Obj(("invitationValidityDays", days));
        }
        var tooMany = "[" + string.Join(",", Enumerable.Range(0, 51).Select(i => S($"d{i}.example"))) + "]";
        foreach (var domains in new[] { "\"example.com\"", "123", "{}", "[123]", "[null]", "[\"\"]", "[\"not a domain\"]", "[\"localhost\"]", "[\"-bad.example\"]", "[\"exa_mple.com\"]", "[\"a\\u0000.com\"]", "[\"\\u00e9xample.com\"]", "[[\"example.com\"]]", tooMany, $"[{S(Huge)}]" })
        {
            yield return Obj(("allowedEmailDomains", domains));
        }
        // Emoji and right-to-left marks are fine in a name; the validity is what is wrong here.
        yield return Obj(("displayName", "\"\\ud83d\\ude00 \\u200f\\u05e9\\u05dc\\u05d5\\u05dd\""), ("invitationValidityDays", "0"));
        yield return Obj(("displayName", "\"A\""), ("displayName", "\"B\""));
    }

    private static IEnumerable<string> TenantBodies()
    {
        foreach (var name in new[] { "123", "true", "{}", "[]", "null", "\"\"", "\"   \"", S(new string('n', 201)), S(Huge), "\"A\\u0000B\"", "\"A\\r\\nB\"", "\"\\ud800\"", "\"\\u0007\"" })
        {
            yield return Obj(("name", name), ("ownerEmail", S(Fresh())));
        }
        foreach (var email in EmailJunk.Concat(WrongTypes))
        {
            yield return Obj(("name", "\"Sweep\""), ("ownerEmail", email));
        }
        yield return "{}";
        yield return Obj(("name", "\"Sweep\""));
        yield return Obj(("ownerEmail", S(Fresh())));
        yield return Obj(("name", "\"\\ud83d\\ude00 Emoji Ltd\""), ("ownerEmail", "\"not-an-email\""));
        yield return Obj(("name", "\"\\u200f\\u05e9\\u05dc\\u05d5\\u05dd\""), ("ownerEmail", "\"a@example.test\\r\\n\""));
        yield return Obj(("name", "\"A\""), ("name", "\"B\""), ("ownerEmail", S(Fresh())));
    }

    private static IEnumerable<string> TokenBodies()
    {
        string[] tokens =
        [
            "null", "\"\"", "\"short\"", S(new string('A', 42)), S(new string('A', 44)), S(new string('!', 43)), S(new string('A', 42) + "+"),
            S(new string('A', 42) + "="), $"\"{new string('A', 42)}\\u0000\"", $"\"\\ud800{new string('A', 42)}\"", S(Huge), S(UnknownToken),
            $"\"{new string('A', 41)}\\ud83d\\ude00\"", $"\"{new string('A', 42)}\\u200f\"",
        ];
        foreach (var token in tokens.Concat(WrongTypes))
        {
            yield return Obj(("token", token));
        }
        yield return "{}";
        yield return Obj(("token", S(UnknownToken)), ("token", S(new string('B', 43))));
    }

    private async Task<string?> CheckAsync(HttpClient client, Case sweepCase)
    {
        using var request = new HttpRequestMessage(sweepCase.Method, sweepCase.Path);
        if (sweepCase.Authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", sweepCase.Authorization);
        }
        var bytes = sweepCase.RawBody ?? (sweepCase.Body is null ? null : Encoding.UTF8.GetBytes(sweepCase.Body));
        if (bytes is not null)
        {
            request.Content = new ByteArrayContent(bytes);
            if (sweepCase.ContentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", sweepCase.ContentType);
            }
        }
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return Problem(sweepCase, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, body) is { } problem
            ? $"{problem}: {Shorten(body, 300)}"
            : null;
    }

    // Null when the answer is a 4xx failure envelope (or, where allowed, a success envelope); otherwise what is wrong with it.
    private static string? Problem(Case sweepCase, int status, string? mediaType, string body)
    {
        var success = status is >= 200 and < 300;
        if (!(status is >= 400 and < 500 || (success && sweepCase.MaySucceed)))
        {
            return $"answered {status}";
        }
        if (mediaType != JsonType)
        {
            return $"answered {status} as '{mediaType}'";
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return $"answered {status} with a body that is not JSON";
        }
        using (document)
        {
            var json = document.RootElement;
            if (json.ValueKind != JsonValueKind.Object || !HasExactly(json, "isSuccess", "isFailure", "error", "value"))
            {
                return $"answered {status} without the envelope";
            }
            if (success)
            {
                return json.GetProperty("isSuccess").ValueKind == JsonValueKind.True && json.GetProperty("isFailure").ValueKind == JsonValueKind.False
                    && json.GetProperty("error").ValueKind == JsonValueKind.Null ? null : $"answered {status} with inconsistent success flags";
            }
            if (json.GetProperty("isSuccess").ValueKind != JsonValueKind.False || json.GetProperty("isFailure").ValueKind != JsonValueKind.True)
            {
                return $"answered {status} with wrong flags";
            }
            if (json.GetProperty("value").ValueKind != JsonValueKind.Null)
            {
                return $"answered {status} with a value";
            }
            var error = json.GetProperty("error");
            if (error.ValueKind != JsonValueKind.Object || !HasExactly(error, "code", "message", "info"))
            {
                return $"answered {status} with a malformed error";
            }
            var code = error.GetProperty("code").ValueKind == JsonValueKind.String ? error.GetProperty("code").GetString() : null;
            if (code is null || !CodesByStatus.TryGetValue(status, out var codes) || !codes.Contains(code))
            {
                return $"answered {status} with code {code ?? "(none)"}";
            }
            if (error.GetProperty("message").ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()))
            {
                return $"answered {status} without a message";
            }
            var info = error.GetProperty("info");
            if (info.ValueKind != JsonValueKind.Array || info.EnumerateArray().Any(i => i.ValueKind != JsonValueKind.String))
            {
                return $"answered {status} without an info array of strings";
            }
            // Problems are described, never echoed: a 100 kB value must not come back.
            return body.Length > 4096 ? $"answered {status} with a {body.Length}-character body" : null;
        }
    }

    private static bool HasExactly(JsonElement json, params string[] names) =>
        json.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).SequenceEqual(names.Order(StringComparer.Ordinal));

    private Task OutboxSettledAsync() => DatabaseSnapshot.SettledAsync(app);

    private Task<Dictionary<string, string>> SnapshotAsync() => DatabaseSnapshot.TakeAsync(app);

    private static string S(string value) => JsonSerializer.Serialize(value);

    private static string Obj(params (string Name, string RawValue)[] fields) =>
        "{" + string.Join(",", fields.Select(f => $"{S(f.Name)}:{f.RawValue}")) + "}";

    // A keyset cursor as the service encodes one (base64url of "ticks.id"), around the given text.
    private static string Cursor(string text) => System.Buffers.Text.Base64Url.EncodeToString(Encoding.ASCII.GetBytes(text));

    private static string Shorten(string text, int length = 120) =>
        (text.Length <= length ? text : $"{text[..length]}…({text.Length} chars)").ReplaceLineEndings("⏎");
}
