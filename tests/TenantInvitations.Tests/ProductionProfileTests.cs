using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace TenantInvitations.Tests;

// The real program on Kestrel in Production, as deployed: behind a proxy (forwarded headers on), answering to one host name.
public sealed class ProductionService : IAsyncLifetime
{
    public const string Host = "invitations.example.test";

    private TestDatabase? database;

    public string Folder { get; } = Directory.CreateTempSubdirectory("ti-production-").FullName;
    public ServiceProcess Service { get; private set; } = null!;
    public TestDatabase Database => database!;
    public Mailbox Mail => new(Path.Combine(Folder, "mail"));

    public static string[] Settings(string folder, TestDatabase database) =>
    [
        "--environment", "Production", $"--App:PublicBaseUrl=https://{Host}", $"--Auth:SigningKey={TestApp.SigningKey}",
        $"--AllowedHosts={Host}", "--ForwardedHeaders:KnownProxies:0=127.0.0.1", $"--Email:PickupDirectory={Path.Combine(folder, "mail")}",
        .. database.Arguments,
    ];

    public async Task InitializeAsync()
    {
        database = TestDatabase.Create(Folder);
        Service = ServiceProcess.Start(Folder, Settings(Folder, database));
        await Service.WaitUntilReadyAsync();
    }

    public Task DisposeAsync()
    {
        Service.Dispose();
        database?.Dispose();
        Directory.Delete(Folder, recursive: true);
        return Task.CompletedTask;
    }
}

public sealed class ProductionProfileTests(ProductionService production) : IClassFixture<ProductionService>
{
    private const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    [Fact]
    public void Without_an_SMTP_host_the_service_says_once_at_start_where_the_emails_go()
    {
        var line = $"No Email:Smtp:Host is set, so invitation emails are not sent: they are written as .eml files to {Path.Combine(production.Folder, "mail")}. Set Email:Smtp:Host to send them.";
        Assert.Equal(1, production.Service.Output.Split('\n').Count(l => l.Contains(line, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task There_is_no_docs_page_in_Production_but_the_OpenAPI_document_is_served()
    {
        foreach (var path in new[] { "/docs", "/docs/", "/docs/v1", "/docs/scalar.js" })
        {
            (await SendAsync(HttpMethod.Get, path)).AssertError(HttpStatusCode.NotFound, "NotFound");
        }
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, "/openapi/v1.json")).Status);
    }

    [Fact]
    public async Task Trace_is_a_405_MethodNotAllowed_envelope_on_every_path()
    {
        foreach (var path in new[] { "/", "/health/live", "/openapi/v1.json", "/tenant/1/admin/settings", "/accept?token=x", "/invitation/accept" })
        {
            var response = await SendAsync(new HttpMethod("TRACE"), path, headers: [("X-Secret", "must-not-be-echoed")]);

            response.AssertError(HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
            Assert.DoesNotContain("must-not-be-echoed", response.Body);
        }
    }

    [Fact]
    public async Task An_unknown_Host_is_a_400_envelope_but_health_probes_answer_whatever_the_host()
    {
        foreach (var host in new[] { "evil.example", "10.0.0.5:8080", $"{ProductionService.Host}.evil.example" })
        {
            foreach (var path in new[] { "/me/tenants", "/openapi/v1.json", "/accept?token=x", "/nope" })
            {
                var response = await SendAsync(HttpMethod.Get, path, host: host);

                response.AssertError(HttpStatusCode.BadRequest, "ValidationError");
                AssertSecurityHeaders(response, ApiPolicy);
            }
            // A load balancer probes by address; health answers hold no links.
            var live = await SendAsync(HttpMethod.Get, "/health/live", host: host);
            Assert.Equal((HttpStatusCode.OK, "Healthy"), (live.Status, live.Body));
        }
        // The host name matches in any case, and X-Forwarded-Host is not a way around it (it is not applied).
        (await SendAsync(HttpMethod.Get, "/me/tenants", host: ProductionService.Host.ToUpperInvariant())).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        (await SendAsync(HttpMethod.Get, "/me/tenants", host: "evil.example", headers: [("X-Forwarded-Host", ProductionService.Host)]))
            .AssertError(HttpStatusCode.BadRequest, "ValidationError");
    }

    [Fact]
    public async Task Forwarded_host_and_proto_never_reach_the_email_link_or_the_OpenAPI_servers()
    {
        (string, string)[] poison = [("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "http"), ("X-Forwarded-Prefix", "/evil"), ("Forwarded", "host=evil.example;proto=http")];
        var ownerEmail = Scenarios.UniqueEmail("owner");

        var created = await SendAsync(HttpMethod.Post, "/tenant", TestApp.Token("root", "root@example.test", platformAdmin: true),
            $$"""{"name":"Poisoned","ownerEmail":"{{ownerEmail}}"}""", headers: poison);
        var document = await SendAsync(HttpMethod.Get, "/openapi/v1.json", headers: poison);

        created.AssertSuccess(HttpStatusCode.Created);
        Assert.DoesNotContain("evil", created.Headers.Location?.OriginalString ?? "");
        Assert.Equal([$"https://{ProductionService.Host}"], document.Json.GetProperty("servers").EnumerateArray().Select(s => s.GetProperty("url").GetString()));
        var email = Assert.Single(await production.Mail.WaitForAsync(ownerEmail));
        foreach (var body in new[] { email.TextBody, email.HtmlBody })
        {
            Assert.Contains($"https://{ProductionService.Host}/accept?token={Mailbox.TokenFrom(email)}", body);
            Assert.DoesNotContain("evil", body);
        }
    }

    [Fact]
    public async Task Every_response_carries_the_security_headers_and_HSTS_only_over_HTTPS()
    {
        var unauthorized = await SendAsync(HttpMethod.Get, "/me/tenants");
        var notFound = await SendAsync(HttpMethod.Get, "/nope");
        var success = await SendAsync(HttpMethod.Get, "/me/tenants", TestApp.Token("someone", "someone@example.test"));
        var document = await SendAsync(HttpMethod.Get, "/openapi/v1.json");
        var health = await SendAsync(HttpMethod.Get, "/health/ready");
        var page = await SendAsync(HttpMethod.Get, $"/accept?token={new string('A', 43)}");
        // Behind the TLS-terminating proxy: the request was HTTPS, as X-Forwarded-Proto from a known proxy says.
        var overHttps = await SendAsync(HttpMethod.Get, "/me/tenants", headers: [("X-Forwarded-Proto", "https")]);

        unauthorized.AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        notFound.AssertError(HttpStatusCode.NotFound, "NotFound");
        success.AssertSuccess();
        foreach (var response in new[] { unauthorized, notFound, success, document, health, overHttps })
        {
            AssertSecurityHeaders(response, ApiPolicy);
        }
        Assert.Equal("text/html", page.ContentHeaders?.ContentType?.MediaType);
        // The accept page keeps its own policy: inline styles and a form that posts back to itself.
        AssertSecurityHeaders(page, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
        foreach (var response in new[] { unauthorized, notFound, success, document, health, page })
        {
            Assert.False(response.Headers.Contains("Strict-Transport-Security"), "HSTS over plain HTTP is ignored by browsers and not sent.");
        }
        Assert.Matches(@"^max-age=\d+", Assert.Single(overHttps.Headers.GetValues("Strict-Transport-Security")));
    }

    [Fact]
    public async Task A_body_over_1_MB_is_a_413_PayloadTooLarge_envelope_and_creates_nothing()
    {
        var token = TestApp.Token("root", "root@example.test", platformAdmin: true);
        string Body(string name, int size)
        {
            var json = $$"""{"name":"{{name}}","ownerEmail":"{{Scenarios.UniqueEmail("owner")}}"}""";
            return json[..^1] + new string(' ', size - json.Length) + "}";
        }

        var atLimit = await SendAsync(HttpMethod.Post, "/tenant", token, Body("At the limit", 1024 * 1024));
        var over = await SendAsync(HttpMethod.Post, "/tenant", token, Body("Over the limit", 1024 * 1024 + 1));
        var chunked = await SendAsync(HttpMethod.Post, "/tenant", token, Body("Chunked over the limit", 3 * 1024 * 1024), chunked: true);

        atLimit.AssertSuccess(HttpStatusCode.Created);
        over.AssertError(HttpStatusCode.RequestEntityTooLarge, "PayloadTooLarge");
        chunked.AssertError(HttpStatusCode.RequestEntityTooLarge, "PayloadTooLarge");
        AssertSecurityHeaders(over, ApiPolicy);
        Assert.Equal(0, await CountTenantsAsync("Over the limit"));
        Assert.Equal(0, await CountTenantsAsync("Chunked over the limit"));
        Assert.Equal(1, await CountTenantsAsync("At the limit"));
    }

    [Fact]
    public async Task An_unexpected_exception_is_a_500_envelope_with_no_exception_text_in_Production()
    {
        var folder = Directory.CreateTempSubdirectory("ti-production-").FullName;
        using var database = TestDatabase.Create(folder);
        using (var service = ServiceProcess.Start(folder, ProductionService.Settings(folder, database)))
        {
            await service.WaitUntilReadyAsync();
            // A table gone from under the running service: an error no handler expects, and not an outage.
            await using (var connection = database.Connect())
            {
                await connection.OpenAsync();
                await using var drop = connection.CreateCommand();
                drop.CommandText = "DROP TABLE memberships";
                await drop.ExecuteNonQueryAsync();
            }

            var response = await SendAsync(HttpMethod.Get, "/me/tenants", TestApp.Token("someone", "someone@example.test"), baseAddress: service.BaseAddress);

            var info = Assert.Single(response.AssertError(HttpStatusCode.InternalServerError, "InternalError").ErrorInfo);
            Assert.Contains(Assert.Single(response.Headers.GetValues("X-Trace-Id")), info);
            foreach (var leak in new[] { "Exception", "memberships", "SQL", "sql", "Npgsql", "Sqlite", "TenantInvitations." })
            {
                Assert.DoesNotContain(leak, response.Body);
            }
            Assert.DoesNotMatch(new Regex(@"\bat [\w.`<>]+\("), response.Body);
            AssertSecurityHeaders(response, ApiPolicy);
        }
        Directory.Delete(folder, recursive: true);
    }

    private static void AssertSecurityHeaders(ApiResponse response, string contentSecurityPolicy)
    {
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.Equal(contentSecurityPolicy, Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
    }

    private async Task<int> CountTenantsAsync(string name)
    {
        await using var connection = production.Database.Connect();
        await connection.OpenAsync();
        await using var count = connection.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM tenants WHERE name = '{name}'";
        return Convert.ToInt32(await count.ExecuteScalarAsync());
    }

    // A request as a client sends it to the deployed service: to its host name, through Kestrel.
    private async Task<ApiResponse> SendAsync(HttpMethod method, string path, string? token = null, string? body = null,
        string host = ProductionService.Host, (string Name, string Value)[]? headers = null, bool chunked = false, Uri? baseAddress = null)
    {
        using var client = new HttpClient { BaseAddress = baseAddress ?? production.Service.BaseAddress };
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Host = host;
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        if (body is not null)
        {
            // Waiting for 100 Continue lets the service refuse a large body before it is sent.
            request.Headers.ExpectContinue = true;
            request.Content = chunked
                ? new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)))
                : new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TransferEncodingChunked = chunked;
        }
        using var response = await client.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }
}
