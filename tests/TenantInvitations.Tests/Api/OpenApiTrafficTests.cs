using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace TenantInvitations.Tests;

// Real traffic checked against the served document by Prism (@stoplight/prism-cli, tests/openapi-lint) as a validating proxy
// with --errors: every operation's success and each documented error a request valid under the document can cause (401, 403,
// 404, 409, 410, 422, 429) goes through it, and Prism must flag nothing, neither in the request nor in the answer. Requests
// the document forbids (no bearer where one is required, a body without a required field) Prism answers itself.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class OpenApiTrafficTests(OpenApiTrafficTests.PrismApp app) : IClassFixture<OpenApiTrafficTests.PrismApp>
{
    // Documented statuses no valid request of this scenario causes, each with the reason.
    private static readonly Dictionary<string, string> NotCaused = new()
    {
        ["POST /tenant/{tenantId}/admin/user/invitation/bulk 409"] = "IdempotencyKeyInUse needs the first request with the key still running",
        ["POST /tenant/{tenantId}/admin/user/invitation/import 409"] = "IdempotencyKeyInUse needs the first request with the key still running",
    };

    private static readonly int[] Checked = [401, 403, 404, 409, 410, 422, 429];

    // Well formed, but signed with a key the service does not know: its 401.
    private static readonly string Forged = TestApp.Token("sub-forged", "forged@example.test", signingKey: "another-signing-key-that-is-long-enough-for-hs256");

    [Fact]
    public async Task Prism_finds_every_operation_and_its_documented_errors_as_the_document_says()
    {
        var prism = app.Prism;
        var platform = app.PlatformAdminToken;
        var stranger = TestApp.Token("sub-stranger", Scenarios.UniqueEmail("stranger"));

        // Tenants, and the Owner joining through the invitation POST /tenant queues.
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var tenant = (await prism.SendAsync("POST", "/tenant", platform, new { name = "Prism", ownerEmail })).Expect(201).GetProperty("id").GetInt64();
        var owner = TestApp.Token($"sub-{ownerEmail}", ownerEmail);
        (await prism.SendAsync("POST", "/tenant", owner, new { name = "Nope", ownerEmail })).Expect(403);
        (await prism.SendAsync("POST", "/tenant", Forged, new { name = "Nope", ownerEmail })).Expect(401);
        var ownerUserId = (await prism.SendAsync("POST", "/invitation/accept", owner, new { token = await LinkTokenAsync(ownerEmail) }))
            .Expect(200).GetProperty("userId").GetInt64();
        await prism.DeniedAsync("GET", "/tenant", stranger);
        (await prism.SendAsync("GET", "/tenant?limit=1", platform)).Expect(200);
        var t = $"/tenant/{tenant}";
        (await prism.SendAsync("GET", t, owner)).Expect(200);
        await prism.DeniedAsync("GET", t, stranger);
        (await prism.SendAsync("GET", "/tenant/999999999", platform)).Expect(404);
        (await prism.SendAsync("PUT", t, owner, new { name = "Prism renamed" })).Expect(200);
        await prism.DeniedAsync("PUT", t, stranger, new { name = "Nope" });
        (await prism.SendAsync("PUT", "/tenant/999999999", platform, new { name = "Nope" })).Expect(404);
        (await prism.SendAsync("GET", "/me/tenants", owner)).Expect(200);
        (await prism.SendAsync("GET", "/me/tenants", Forged)).Expect(401);

        // A Member, who may not manage the tenant.
        var memberInvite = await CreateInvitationAsync(t, owner, Scenarios.UniqueEmail("member"));
        var member = TestApp.Token($"sub-{memberInvite.Email}", memberInvite.Email);
        var memberUserId = (await prism.SendAsync("POST", "/invitation/accept", member, new { token = memberInvite.Token })).Expect(200).GetProperty("userId").GetInt64();

        // Settings.
        var settings = $"{t}/admin/settings";
        (await prism.SendAsync("GET", settings, owner)).Expect(200);
        (await prism.SendAsync("PUT", settings, owner, new { displayName = "Prism Inc." })).Expect(200);
        foreach (var (method, body) in new[] { ("GET", (object?)null), ("PUT", new { displayName = "Nope" }) })
        {
            await prism.DeniedAsync(method, settings, member, body);
            (await prism.SendAsync(method, "/tenant/999999999/admin/settings", platform, body)).Expect(404);
        }

        // Invitations: list, create, get, preview, history.
        var invitations = $"{t}/admin/user/invitation";
        var first = await CreateInvitationAsync(t, owner, Scenarios.UniqueEmail("first"));
        (await prism.SendAsync("POST", invitations, owner, new { email = first.Email })).Expect(409);
        await prism.DeniedAsync("POST", invitations, member, new { email = Scenarios.UniqueEmail() });
        (await prism.SendAsync("POST", "/tenant/999999999/admin/user/invitation", platform, new { email = Scenarios.UniqueEmail() })).Expect(404);
        var page = await prism.SendAsync("GET", $"{invitations}?limit=1", owner);
        page.Expect(200);
        Assert.Contains("rel=\"next\"", page.Response.Headers.GetValues("Link").Single());
        const string noTenant = "/tenant/999999999";
        foreach (var (path, missing) in new[]
        {
            (invitations, $"{noTenant}/admin/user/invitation"),
            ($"{invitations}/{first.Id}", $"{invitations}/999999999"),
            ($"{invitations}/{first.Id}/email", $"{invitations}/999999999/email"),
            ($"{invitations}/{first.Id}/history", $"{invitations}/999999999/history"),
            ($"{t}/admin/user", $"{noTenant}/admin/user"),
            ($"{t}/admin/audit", $"{noTenant}/admin/audit"),
            ($"{t}/admin/events", $"{noTenant}/admin/events"),
        })
        {
            (await prism.SendAsync("GET", path, owner)).Expect(200);
            await prism.DeniedAsync("GET", path, member);
            (await prism.SendAsync("GET", missing, missing.StartsWith(noTenant, StringComparison.Ordinal) ? platform : owner)).Expect(404);
        }
        (await prism.SendAsync("GET", "/events?limit=5", platform)).Expect(200);
        await prism.DeniedAsync("GET", "/events", owner);

        // Resend on both paths: the cooldown (429 with Retry-After), then a resend that supersedes the first link (410 for it).
        foreach (var resend in new[] { $"{invitations}/resend", $"/api/tenant/{tenant}/invitations/resend" })
        {
            var tooSoon = await prism.SendAsync("PUT", $"{resend}?id={first.Id}", owner);
            tooSoon.Expect(429);
            Assert.True(tooSoon.Response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            app.Clock.Advance(TimeSpan.FromSeconds(61));
            (await prism.SendAsync("PUT", $"{resend}?id={first.Id}", owner)).Expect(200);
            await prism.DeniedAsync("PUT", $"{resend}?id={first.Id}", member);
            (await prism.SendAsync("PUT", $"{resend}?id=999999999", owner)).Expect(404);
        }
        var links = await app.WaitForEmailAsync(first.Email, 3);
        var superseded = Mailbox.TokenFrom(links[0]);
        var current = Mailbox.TokenFrom(links[^1]);

        // Revoke, and what a revoked invitation answers.
        var revoked = await CreateInvitationAsync(t, owner, Scenarios.UniqueEmail("revoked"));
        (await prism.SendAsync("PUT", $"{invitations}/revoke?id={revoked.Id}", owner)).Expect(200);
        (await prism.SendAsync("PUT", $"{invitations}/revoke?id={revoked.Id}", owner)).Expect(409);
        (await prism.SendAsync("PUT", $"{invitations}/resend?id={revoked.Id}", owner)).Expect(409);
        (await prism.SendAsync("PUT", $"/api/tenant/{tenant}/invitations/resend?id={revoked.Id}", owner)).Expect(409);
        await prism.DeniedAsync("PUT", $"{invitations}/revoke?id={first.Id}", member);
        (await prism.SendAsync("PUT", $"{invitations}/revoke?id=999999999", owner)).Expect(404);

        // The tenant's hourly email quota: a create past it is 429.
        await QuotaAsync(platform);

        // Bulk, with an Idempotency-Key reused for another body (422).
        var bulk = $"{invitations}/bulk";
        var key = new Dictionary<string, string> { ["Idempotency-Key"] = $"bulk-{Guid.NewGuid():N}" };
        (await prism.SendAsync("POST", bulk, owner, new { invitations = new[] { new { email = Scenarios.UniqueEmail("bulk") } } }, headers: key)).Expect(200);
        (await prism.SendAsync("POST", bulk, owner, new { invitations = new[] { new { email = Scenarios.UniqueEmail("bulk") } } }, headers: key)).Expect(422);
        await prism.DeniedAsync("POST", bulk, member, new { invitations = new[] { new { email = Scenarios.UniqueEmail() } } });
        (await prism.SendAsync("POST", "/tenant/999999999/admin/user/invitation/bulk", platform,
            new { invitations = new[] { new { email = Scenarios.UniqueEmail() } } })).Expect(404);

        // Imports: start (202), reuse of its key (422), list, get, results, cancel.
        var imports = $"{invitations}/import";
        var importKey = new Dictionary<string, string> { ["Idempotency-Key"] = $"import-{Guid.NewGuid():N}" };
        var importId = (await prism.SendAsync("POST", imports, owner, csv: $"email\n{Scenarios.UniqueEmail("imported")}\n", headers: importKey))
            .Expect(202).GetProperty("id").GetInt64();
        (await prism.SendAsync("POST", imports, owner, csv: $"email\n{Scenarios.UniqueEmail("imported")}\n", headers: importKey)).Expect(422);
        await prism.DeniedAsync("POST", imports, member, csv: "email\nnobody@example.test\n");
        (await prism.SendAsync("POST", "/tenant/999999999/admin/user/invitation/import", platform, csv: "email\nnobody@example.test\n")).Expect(404);
        await Eventually.ValueAsync(async () => (await app.GetAsync($"{imports}/{importId}", owner)).AssertSuccess().GetProperty("status").GetString(),
            status => status == "Completed");
        foreach (var (method, path, missing) in new[]
        {
            ("GET", imports, $"{noTenant}/admin/user/invitation/import"),
            ("GET", $"{imports}/{importId}", $"{imports}/999999999"),
            ("GET", $"{imports}/{importId}/results", $"{imports}/999999999/results"),
            ("DELETE", $"{imports}/{importId}", $"{imports}/999999999"),
        })
        {
            (await prism.SendAsync(method, path, owner)).Expect(200);
            await prism.DeniedAsync(method, path, member);
            (await prism.SendAsync(method, missing, missing.StartsWith(noTenant, StringComparison.Ordinal) ? platform : owner)).Expect(404);
        }

        // Members: a role change and a removal, and the last Owner kept (409).
        var roles = $"{t}/admin/user/role";
        (await prism.SendAsync("PUT", $"{roles}?id={memberUserId}", owner, new { role = "Admin" })).Expect(200);
        (await prism.SendAsync("PUT", $"{roles}?id={memberUserId}", owner, new { role = "Member" })).Expect(200);
        (await prism.SendAsync("PUT", $"{roles}?id={ownerUserId}", owner, new { role = "Member" })).Expect(409);
        await prism.DeniedAsync("PUT", $"{roles}?id={ownerUserId}", member, new { role = "Member" });
        (await prism.SendAsync("PUT", $"{roles}?id=999999999", owner, new { role = "Member" })).Expect(404);
        var leaving = await CreateInvitationAsync(t, owner, Scenarios.UniqueEmail("leaving"));
        var leavingUserId = (await app.PostAsync("/invitation/accept", new { token = leaving.Token })).AssertSuccess().GetProperty("userId").GetInt64();
        (await prism.SendAsync("DELETE", $"{t}/admin/user?id={leavingUserId}", owner)).Expect(200);
        (await prism.SendAsync("DELETE", $"{t}/admin/user?id={ownerUserId}", owner)).Expect(409);
        await prism.DeniedAsync("DELETE", $"{t}/admin/user?id={ownerUserId}", member);
        (await prism.SendAsync("DELETE", $"{t}/admin/user?id=999999999", owner)).Expect(404);

        // Webhooks, the tenant's and the platform's, each operation with its refusals.
        await WebhooksAsync($"{t}/admin/webhooks", owner, member, platform);
        await WebhooksAsync("/webhooks", platform, owner, null);

        // The invitee's three: preview, accept and decline, with each token state the document names.
        const string unknown = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        (await prism.SendAsync("GET", $"/invitation?token={current}", null)).Expect(200);
        (await prism.SendAsync("GET", $"/invitation?token={unknown}", null)).Expect(404);
        (await prism.SendAsync("GET", $"/invitation?token={superseded}", null)).Expect(410);
        Assert.Equal("Accepted", (await prism.SendAsync("GET", $"/invitation?token={memberInvite.Token}", null)).Expect(200).GetProperty("status").GetString());
        foreach (var action in new[] { "accept", "decline" })
        {
            (await prism.SendAsync("POST", $"/invitation/{action}", null, new { token = unknown })).Expect(404);
            (await prism.SendAsync("POST", $"/invitation/{action}", null, new { token = superseded })).Expect(410);
            (await prism.SendAsync("POST", $"/invitation/{action}", null, new { token = memberInvite.Token })).Expect(409);
        }
        (await prism.SendAsync("POST", "/invitation/accept", Forged, new { token = current })).Expect(401);
        (await prism.SendAsync("POST", "/invitation/accept", stranger, new { token = current })).Expect(403);
        (await prism.SendAsync("POST", "/invitation/accept", null, new { token = current })).Expect(200);
        var declining = await CreateInvitationAsync(t, owner, Scenarios.UniqueEmail("declining"));
        (await prism.SendAsync("POST", "/invitation/decline", null, new { token = declining.Token })).Expect(200);

        // Last, the public endpoints' rate limit (RateLimits:TokenRequestsPerMinute, low in this app): 429 with Retry-After on each.
        // (Each sends until it is refused: the limit's window is a real minute, which may turn between two of them.)
        await prism.RateLimitAsync("GET", $"/invitation?token={unknown}", null);
        await prism.RateLimitAsync("POST", "/invitation/accept", new { token = unknown });
        await prism.RateLimitAsync("POST", "/invitation/decline", new { token = unknown });

        // Every operation the document names was answered with its success and with each documented error checked here.
        var missingPairs = prism.Document.Operations
            .SelectMany(o => o.Statuses.Where(s => s.StartsWith('2') || Checked.Contains(int.Parse(s))).Select(s => $"{o.Key} {s}"))
            .Where(pair => !prism.Seen.Contains(pair) && !NotCaused.ContainsKey(pair)).ToList();
        Assert.True(missingPairs.Count == 0, "Not sent through Prism:\n" + string.Join("\n", missingPairs));
        Assert.True(prism.Violations.Count == 0, "Prism flagged:\n" + string.Join("\n", prism.Violations));
    }

    [Fact]
    public async Task Prism_itself_answers_requests_the_document_forbids_so_the_proxy_is_checking()
    {
        var prism = app.Prism;

        // No bearer where the document requires one: Prism's own 401, the service never asked.
        var unsigned = await prism.RawAsync("GET", "/tenant", token: null, json: null);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.Response.StatusCode);
        Assert.Contains("stoplight.io/prism/errors#UNAUTHORIZED", unsigned.Body);

        // A create without the required email: Prism's 422, naming the field.
        // (The tenant's Owner is not signed in: this test stays off the public endpoints, whose rate limit the other one uses up.)
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var tenant = (await app.PostAsync("/tenant", new { name = "Forbidden", ownerEmail }, app.PlatformAdminToken)).AssertSuccess(HttpStatusCode.Created)
            .GetProperty("id").GetInt64();
        var invalid = await prism.RawAsync("POST", $"/tenant/{tenant}/admin/user/invitation", app.PlatformAdminToken, new { role = "Member" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.Response.StatusCode);
        Assert.Contains("must have required property 'email'", invalid.Body);
        var listed = (await app.GetAsync($"/tenant/{tenant}/admin/user/invitation", app.PlatformAdminToken)).AssertSuccess();
        Assert.Equal(ownerEmail, Assert.Single(listed.EnumerateArray()).GetProperty("email").GetString());

        // An id below the document's minimum of 1.
        var zero = await prism.RawAsync("GET", $"/tenant/{tenant}/admin/user/invitation/0", app.PlatformAdminToken, json: null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, zero.Response.StatusCode);
    }

    private async Task<InvitationSetup> CreateInvitationAsync(string tenantPath, string token, string email)
    {
        var id = (await app.Prism.SendAsync("POST", $"{tenantPath}/admin/user/invitation", token, new { email })).Expect(201)[0].GetProperty("id").GetInt64();
        return new InvitationSetup(id, email, Mailbox.TokenFrom(Assert.Single(await app.WaitForEmailAsync(email))));
    }

    private async Task<string> LinkTokenAsync(string email) => Mailbox.TokenFrom(Assert.Single(await app.WaitForEmailAsync(email)));

    // A second tenant with an hourly quota of one email, used by its Owner's invitation: the next create is 429.
    private async Task QuotaAsync(string platform)
    {
        var prism = app.Prism;
        var ownerEmail = Scenarios.UniqueEmail("quota-owner");
        var tenant = (await prism.SendAsync("POST", "/tenant", platform, new { name = "Quota", ownerEmail })).Expect(201).GetProperty("id").GetInt64();
        await app.WaitForEmailAsync(ownerEmail);
        (await app.PutAsync($"/tenant/{tenant}/admin/settings", platform, new { emailsPerHour = 1 })).AssertSuccess();
        var over = await prism.SendAsync("POST", $"/tenant/{tenant}/admin/user/invitation", platform, new { email = Scenarios.UniqueEmail() });
        over.Expect(429);
        Assert.True(over.Response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
    }

    // Every webhook operation under path, as the manager (success and 404) and as someone refused (403), and 401 for a forged token.
    private async Task WebhooksAsync(string path, string manager, string refused, string? platformForMissingTenant)
    {
        var prism = app.Prism;
        var created = (await prism.SendAsync("POST", path, manager, new { url = "http://127.0.0.1:9/prism", description = "Prism" })).Expect(201);
        var id = created.GetProperty("id").GetInt64();
        app.RememberSecret(created.GetProperty("secret").GetString()!);
        await prism.DeniedAsync("POST", path, refused, new { url = "http://127.0.0.1:9/prism" });
        if (platformForMissingTenant is not null)
        {
            (await prism.SendAsync("POST", "/tenant/999999999/admin/webhooks", platformForMissingTenant, new { url = "http://127.0.0.1:9/prism" })).Expect(404);
            (await prism.SendAsync("GET", "/tenant/999999999/admin/webhooks", platformForMissingTenant)).Expect(404);
        }
        (await prism.SendAsync("PUT", $"{path}/{id}", manager, new { enabled = false })).Expect(200);
        var delivery = (await prism.SendAsync("POST", $"{path}/{id}/test", manager)).Expect(202).GetProperty("id").GetInt64();
        app.RememberSecret((await prism.SendAsync("POST", $"{path}/{id}/rotate-secret", manager)).Expect(200).GetProperty("secret").GetString()!);
        (await prism.SendAsync("POST", $"{path}/{id}/deliveries/{delivery}/retry", manager)).Expect(202);
        (await prism.SendAsync("POST", $"{path}/{id}/deliveries/999999999/retry", manager)).Expect(404);
        foreach (var (method, sub, body) in new (string, string, object?)[] { ("GET", "", null), ("GET", $"/{id}", null), ("PUT", $"/{id}", new { description = "Prism" }),
            ("GET", $"/{id}/deliveries", null), ("POST", $"/{id}/test", null), ("POST", $"/{id}/rotate-secret", null), ("POST", $"/{id}/deliveries/{delivery}/retry", null),
            ("DELETE", $"/{id}", null) })
        {
            await prism.DeniedAsync(method, path + sub, refused, body);
            if (sub.Length > 0)
            {
                (await prism.SendAsync(method, $"{path}/999999999{sub[$"/{id}".Length..]}", manager, body)).Expect(404);
            }
        }
        (await prism.SendAsync("GET", path, manager)).Expect(200);
        (await prism.SendAsync("GET", $"{path}/{id}", manager)).Expect(200);
        (await prism.SendAsync("GET", $"{path}/{id}/deliveries", manager)).Expect(200);
        (await prism.SendAsync("DELETE", $"{path}/{id}", manager)).Expect(200);
    }

    // The service on a real socket, and Prism in front of it, proxying to it with the document the service serves.
    public sealed class PrismApp : WebhookTestApp
    {
        private readonly int port = ServiceProcess.FreePort();
        private Prism? prism;

        public PrismApp()
        {
            UseKestrel(port);
            StartServer();
        }

        public string BaseUrl => $"http://127.0.0.1:{port}";

        public Prism Prism => prism ??= Prism.Start(this, BaseUrl);

        protected override IEnumerable<KeyValuePair<string, string>> ExtraSettings() =>
            [new("App:PublicBaseUrl", BaseUrl), new("RateLimits:TokenRequestsPerMinute", "60")];

        public override async ValueTask DisposeAsync()
        {
            prism?.Dispose();
            await base.DisposeAsync();
        }
    }

    public sealed record TrafficAnswer(string Key, HttpResponseMessage Response, string Body)
    {
        // The envelope's value, after checking the status and that it is the service's envelope, not Prism's own problem.
        public JsonElement Expect(int status)
        {
            Assert.True((int)Response.StatusCode == status, $"{Key}: expected {status}, got {(int)Response.StatusCode}: {Body}");
            if (Response.Content.Headers.ContentType?.MediaType == "text/csv")
            {
                return default;
            }
            var json = JsonDocument.Parse(Body).RootElement;
            Assert.True(json.TryGetProperty("isSuccess", out var success), $"{Key}: not the service's envelope: {Body}");
            Assert.Equal(status < 300, success.GetBoolean());
            return json.GetProperty("value");
        }
    }

    public sealed record DocumentOperation(string Key, Regex Pattern, string Method, IReadOnlyList<string> Statuses);

    public sealed record ServedDocument(IReadOnlyList<DocumentOperation> Operations)
    {
        public static ServedDocument Read(string json)
        {
            var operations = new List<DocumentOperation>();
            foreach (var path in JsonDocument.Parse(json).RootElement.GetProperty("paths").EnumerateObject())
            {
                var pattern = new Regex("^" + Regex.Replace(Regex.Escape(path.Name), @"\\\{[^}]+}", "[0-9]+") + "$");
                foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "put" or "post" or "delete"))
                {
                    var method = operation.Name.ToUpperInvariant();
                    operations.Add(new($"{method} {path.Name}", pattern, method,
                        [.. operation.Value.GetProperty("responses").EnumerateObject().Select(r => r.Name)]));
                }
            }
            return new(operations);
        }

        public string KeyOf(string method, string path)
        {
            var bare = path.Split('?')[0];
            var matches = Operations.Where(o => o.Method == method && o.Pattern.IsMatch(bare)).ToList();
            // A literal segment wins over a placeholder (…/invitation/import beside …/invitation/{id}).
            return matches.OrderBy(o => o.Key.Count(c => c == '{')).Select(o => o.Key).FirstOrDefault() ?? $"{method} {bare} (not in the document)";
        }
    }

    // Prism 5 as a proxy: `prism proxy <document> <service> --errors`, on a free loopback port, stopped with its process tree.
    public sealed class Prism : IDisposable
    {
        private readonly Process process;
        private readonly StringBuilder output = new();
        private readonly HttpClient client;

        private Prism(Process process, int port, ServedDocument document)
        {
            this.process = process;
            Document = document;
            client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        }

        public ServedDocument Document { get; }
        public HashSet<string> Seen { get; } = [];
        public List<string> Violations { get; } = [];

        public static Prism Start(PrismApp app, string upstream)
        {
            var folder = Path.Combine(Repository.Root, "tests", "openapi-lint");
            var executable = Path.Combine(folder, "node_modules", ".bin", "prism");
            if (!File.Exists(executable))
            {
                throw new InvalidOperationException($"{executable} is missing: run npm ci --prefix tests/openapi-lint (scripts/test.sh does).");
            }
            using var http = new HttpClient { BaseAddress = new Uri(upstream) };
            var json = http.GetStringAsync("/openapi/v1.json").GetAwaiter().GetResult();
            Directory.CreateDirectory(app.Folder);
            var file = Path.Combine(app.Folder, "openapi-prism.json");
            File.WriteAllText(file, json);

            var port = ServiceProcess.FreePort();
            var info = new ProcessStartInfo(executable) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "proxy", file, upstream, "--host", "127.0.0.1", "--port", port.ToString(), "--errors" })
            {
                info.ArgumentList.Add(arg);
            }
            var prism = new Prism(Process.Start(info)!, port, ServedDocument.Read(json));
            prism.process.OutputDataReceived += (_, e) => { lock (prism.output) { prism.output.AppendLine(e.Data); } };
            prism.process.ErrorDataReceived += (_, e) => { lock (prism.output) { prism.output.AppendLine(e.Data); } };
            prism.process.BeginOutputReadLine();
            prism.process.BeginErrorReadLine();
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (!prism.Output.Contains("Prism is listening", StringComparison.Ordinal))
            {
                if (prism.process.HasExited || DateTime.UtcNow > deadline)
                {
                    var log = prism.Output;
                    prism.Dispose();
                    throw new InvalidOperationException($"Prism did not start listening:\n{log}");
                }
                Thread.Sleep(100);
            }
            return prism;
        }

        private string Output { get { lock (output) { return output.ToString(); } } }

        // Sends through Prism and records the operation and status answered, and anything Prism flagged.
        public async Task<TrafficAnswer> SendAsync(string method, string path, string? token, object? json = null, string? csv = null,
            Dictionary<string, string>? headers = null)
        {
            var (response, body) = await SendRawAsync(method, path, token, json, csv, headers);
            var key = Document.KeyOf(method, path);
            Seen.Add($"{key} {(int)response.StatusCode}");
            if (response.Headers.TryGetValues("sl-violations", out var violations))
            {
                Violations.Add($"{key} {(int)response.StatusCode}: {string.Join(" ", violations)}");
            }
            if (body.Contains("stoplight.io/prism/errors#", StringComparison.Ordinal))
            {
                Violations.Add($"{key} {(int)response.StatusCode}, answered by Prism: {body}");
            }
            return new TrafficAnswer(key, response, body);
        }

        // Sends through Prism without recording: for requests Prism itself is meant to answer.
        public async Task<TrafficAnswer> RawAsync(string method, string path, string? token, object? json)
        {
            var (response, body) = await SendRawAsync(method, path, token, json, null, null);
            return new TrafficAnswer($"{method} {path}", response, body);
        }

        // 401 for a token the service did not sign, 403 for the signed-in caller who may not.
        public async Task DeniedAsync(string method, string path, string refused, object? json = null, string? csv = null)
        {
            (await SendAsync(method, path, Forged, json, csv)).Expect(401);
            (await SendAsync(method, path, refused, json, csv)).Expect(403);
        }

        // Sends the public request until the limit answers 429 (with Retry-After); a bounded number of tries.
        public async Task RateLimitAsync(string method, string path, object? json)
        {
            for (var i = 0; i < 200; i++)
            {
                var answer = await SendAsync(method, path, null, json);
                if (answer.Response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    answer.Expect(429);
                    Assert.True(answer.Response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
                    return;
                }
                answer.Expect(404);
            }
            Assert.Fail("The public endpoints' rate limit never answered 429.");
        }

        private async Task<(HttpResponseMessage Response, string Body)> SendRawAsync(string method, string path, string? token, object? json, string? csv,
            Dictionary<string, string>? headers)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            foreach (var (name, value) in headers ?? [])
            {
                request.Headers.Add(name, value);
            }
            if (json is not null)
            {
                request.Content = new StringContent(JsonSerializer.Serialize(json, JsonSerializerOptions.Web), Encoding.UTF8, "application/json");
            }
            else if (csv is not null)
            {
                request.Content = new StringContent(csv, Encoding.UTF8, "text/csv");
            }
            var response = await client.SendAsync(request);
            return (response, await response.Content.ReadAsStringAsync());
        }

        public void Dispose()
        {
            client.Dispose();
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
            process.Dispose();
        }
    }
}
