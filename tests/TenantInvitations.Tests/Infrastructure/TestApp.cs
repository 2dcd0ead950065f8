using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using TenantInvitations.Data;

namespace TenantInvitations.Tests;

// The service in-process on a real database of its own (a SQLite file, or a PostgreSQL database: see TestDatabase), with mail written to its own pickup folder,
// a fake clock the tests move, and real JWTs signed with the test key.
public partial class TestApp : WebApplicationFactory<Program>
{
    public const string SigningKey = "test-signing-key-that-is-long-enough-for-hs256";

    private TestDatabase? database;

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "ti-tests", Guid.NewGuid().ToString("N"));
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);
    public FaultInjector Faults { get; } = new();
    public Mailbox Mail => new(Path.Combine(Folder, "mail"));
    public Transcript Transcript { get; } = new();
    public CommandLog Commands { get; } = new();
    private readonly ConcurrentQueue<string> mintedTokens = new();
    private readonly ConcurrentQueue<string> webhookSecrets = new();

    // Waits for emails wherever this app delivers them: the pickup folder here, the SMTP server in SmtpTestApp.
    public virtual Task<MimeKit.MimeMessage[]> WaitForEmailAsync(string address, int count = 1) => Mail.WaitForAsync(address, count);
    // Every email this app sent, wherever it went: the scan for leaked tokens takes its tokens from their links.
    protected virtual IEnumerable<MimeKit.MimeMessage> EmailsSent() => Mail.All();

    // A token a test made itself rather than took from an email, so the leak scan looks for it too.
    public void RememberToken(string token) => mintedTokens.Enqueue(token);

    // A webhook secret the service answered: the leak scan looks for it everywhere but the two answers that show it.
    public void RememberSecret(string secret) => webhookSecrets.Enqueue(secret);

    public string PlatformAdminToken => Token("platform-root", "root@platform.test", platformAdmin: true);

    protected virtual IEnumerable<KeyValuePair<string, string>> Settings() => [];

    // Runs once on the new, empty database before the service starts (and migrates it).
    protected virtual void PrepareDatabase(TestDatabase database)
    {
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        Directory.CreateDirectory(Folder);
        if (database is null)
        {
            database = TestDatabase.Create(Folder);
            PrepareDatabase(database);
        }
        foreach (var (key, value) in database.Settings)
        {
            builder.UseSetting(key, value);
        }
        builder.UseSetting("Email:PickupDirectory", Path.Combine(Folder, "mail"));
        builder.UseSetting("Email:PollInterval", "00:00:00.200");
        builder.UseSetting("Webhooks:PollInterval", "00:00:00.100");
        builder.UseSetting("Imports:PollInterval", "00:00:00.100");
        builder.UseSetting("Auth:SigningKey", SigningKey);
        builder.UseSetting("App:PublicBaseUrl", "https://invitations.example.test");
        // In-process requests have no client address, so all of them share one token rate limit; TokenRateLimitTests lower it.
        builder.UseSetting("RateLimits:TokenRequestsPerMinute", "1000000");
        foreach (var (key, value) in Settings())
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureLogging(Transcript.CaptureLogs);
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<TimeProvider>(Clock);
            services.AddSingleton(Faults);
            services.AddSingleton(Transcript.Responses);
            TestDatabase.AddInterceptors(services, [.. Faults.Interceptors, Commands]);
        });
    }

    public static string Token(string subject, string? email, bool platformAdmin = false, string? audience = null,
        string signingKey = SigningKey, DateTime? expires = null)
    {
        var claims = new List<Claim> { new("sub", subject) };
        if (email is not null)
        {
            claims.Add(new Claim("email", email));
        }
        if (platformAdmin)
        {
            claims.Add(new Claim("role", "platform-admin"));
        }
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "tenant-invitations",
            Audience = audience ?? "tenant-invitations",
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now.AddHours(-1),
            NotBefore = now.AddHours(-1),
            Expires = expires ?? now.AddDays(60),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(signingKey)), SecurityAlgorithms.HmacSha256),
        });
    }

    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, string? token = null, object? body = null,
        string? rawBody = null, string contentType = "application/json", CancellationToken cancellationToken = default,
        IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.Add(name, value);
        }
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        else if (rawBody is not null)
        {
            // Sent exactly as given, parameters and quoting included (StringContent would validate and rewrite it).
            request.Content = new StringContent(rawBody, Encoding.UTF8);
            request.Content.Headers.Remove("Content-Type");
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        using var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = ClientOptions.BaseAddress });
        using var response = await client.SendAsync(request, cancellationToken);
        return await ApiResponse.ReadAsync(response);
    }

    public Task<ApiResponse> GetAsync(string path, string? token = null) => SendAsync(HttpMethod.Get, path, token);

    // A body sent as these bytes exactly (a file that may not be UTF-8).
    public async Task<ApiResponse> SendBytesAsync(HttpMethod method, string path, string? token, byte[] body, string contentType,
        IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.Add(name, value);
        }
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = ClientOptions.BaseAddress });
        using var response = await client.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }

    // A W3C traceparent for a request, so its trace id (and the SQL it runs: Commands.OfTrace) is known beforehand.
    public static (string TraceId, KeyValuePair<string, string>[] Headers) Traced()
    {
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        return (traceId, [new("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01")]);
    }
    public Task<ApiResponse> PostAsync(string path, object? body, string? token = null) => SendAsync(HttpMethod.Post, path, token, body ?? new { });
    public Task<ApiResponse> PutAsync(string path, string? token = null, object? body = null) => SendAsync(HttpMethod.Put, path, token, body);
    public Task<ApiResponse> DeleteAsync(string path, string? token = null) => SendAsync(HttpMethod.Delete, path, token);

    // A database context outside any request: it sees every tenant.
    internal async Task<T> QueryAsync<T>(Func<AppDbContext, Task<T>> query)
    {
        await using var db = Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        return await query(db);
    }

    // Secrets found in what this app answered or logged, token text in its SQL, and changes to the audit trail. Run when the
    // app is disposed (after its host stopped, before its database is dropped): only then is every email, and so every token, known.
    public List<string> SuiteProblems()
    {
        var scan = new LeakScan();
        scan.AddTokensFrom(EmailsSent());
        foreach (var token in mintedTokens)
        {
            scan.AddToken(token);
        }
        foreach (var (hash, where) in StoredHashes())
        {
            scan.AddHash(hash, $"a token hash from {where}");
        }
        var commands = Commands.All.Select(c => ($"SQL command {c.Sql[..Math.Min(60, c.Sql.Length)]}…", $"{c.Sql}\n{string.Join("\n", c.Parameters)}")).ToList();
        var secretScan = new LeakScan();
        foreach (var secret in webhookSecrets)
        {
            secretScan.AddSecret(secret, $"webhook secret {secret[..9]}…");
        }
        return
        [
            .. scan.Find(Transcript.Entries), .. scan.Find(StoredEvents()), .. scan.Find(commands, hashesToo: false), .. Commands.Violations.Distinct(),
            .. secretScan.Find(Transcript.Entries.Where(e => !SecretAnswer().IsMatch(e.Where))), .. secretScan.Find(StoredEvents()), .. secretScan.Find(commands),
        ];
    }

    // Registering an endpoint and rotating its secret are the only answers that may show a secret: the API's, and the console
    // page's answer to its Add and Rotate forms (its other forms answer with a redirect).
    [System.Text.RegularExpressions.GeneratedRegex(@"^response to POST ((/tenant/\d+/admin)?/webhooks(/\d+/rotate-secret)?|/console/tenants/\d+/webhooks)$")]
    private static partial System.Text.RegularExpressions.Regex SecretAnswer();

    // Every event as stored, whole rows: what the feed and webhooks would ever show.
    private List<(string Where, string Text)> StoredEvents()
    {
        var events = new List<(string, string)>();
        try
        {
            using var connection = database!.Connect();
            connection.Open();
            using var select = connection.CreateCommand();
            select.CommandText = "SELECT * FROM events";
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                var row = string.Join("\n", Enumerable.Range(0, reader.FieldCount).Select(i => $"{reader.GetName(i)}={reader.GetValue(i)}"));
                events.Add(($"stored event {reader["id"]} {reader["type"]}", row));
            }
        }
        catch (System.Data.Common.DbException)
        {
            // no schema (an app that was meant not to start)
        }
        return events;
    }

    private List<(byte[] Hash, string Where)> StoredHashes()
    {
        var hashes = new List<(byte[], string)>();
        try
        {
            using var connection = database!.Connect();
            connection.Open();
            foreach (var (sql, where) in new[] { ("SELECT token_hash FROM invitations", "invitations"), ("SELECT hash FROM superseded_tokens", "superseded_tokens") })
            {
                using var select = connection.CreateCommand();
                select.CommandText = sql;
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    hashes.Add(((byte[])reader.GetValue(0), where));
                }
            }
        }
        catch (System.Data.Common.DbException)
        {
            // an app that never got its schema (it was meant not to start): the emails' tokens still give their hashes
        }
        return hashes;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (database is null)
        {
            return; // never started, or already disposed (WebApplicationFactory's Dispose and DisposeAsync call each other)
        }
        var problems = new List<string>();
        try
        {
            problems = disposing ? SuiteProblems() : [];
        }
        finally
        {
            database.Dispose();
            database = null;
            try
            {
                Directory.Delete(Folder, recursive: true);
            }
            catch (IOException)
            {
                // a file still open on shutdown; the temp folder is cleaned later
            }
        }
        // Thrown from fixture cleanup, xunit reports "Test Class Cleanup Failure" and the run fails (scripts/test.sh counts it).
        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"{GetType().Name}: {problems.Count} secret leak(s) or audit change(s):\n{string.Join("\n", problems.Take(100))}");
        }
    }
}

public sealed record ApiResponse(HttpStatusCode Status, JsonElement Json, string Body, HttpResponseHeaders Headers, HttpContentHeaders? ContentHeaders)
{
    public static async Task<ApiResponse> ReadAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        var json = body.Length > 0 && response.Content.Headers.ContentType?.MediaType == "application/json"
            ? JsonDocument.Parse(body).RootElement.Clone()
            : default;
        return new ApiResponse(response.StatusCode, json, body, response.Headers, response.Content.Headers);
    }

    public JsonElement Value => Json.GetProperty("value");
    public string? ErrorCode => Json.GetProperty("error").ValueKind == JsonValueKind.Null ? null : Json.GetProperty("error").GetProperty("code").GetString();
    public string[] ErrorInfo => [.. Json.GetProperty("error").GetProperty("info").EnumerateArray().Select(i => i.GetString()!)];

    // A whole success envelope: flags, no error, and a value.
    public JsonElement AssertSuccess(HttpStatusCode status = HttpStatusCode.OK)
    {
        Assert.True(Status == status, $"Expected {(int)status} but got {(int)Status}: {Body}");
        Assert.True(Json.GetProperty("isSuccess").GetBoolean(), Body);
        Assert.False(Json.GetProperty("isFailure").GetBoolean(), Body);
        Assert.Equal(JsonValueKind.Null, Json.GetProperty("error").ValueKind);
        Assert.Equal(4, Json.EnumerateObject().Count());
        return Value;
    }

    // A whole failure envelope: flags, the code, a message, an info array and a null value.
    public ApiResponse AssertError(HttpStatusCode status, string code)
    {
        Assert.True(Status == status, $"Expected {(int)status} {code} but got {(int)Status}: {Body}");
        Assert.Equal("application/json", ContentHeaders?.ContentType?.MediaType);
        Assert.False(Json.GetProperty("isSuccess").GetBoolean(), Body);
        Assert.True(Json.GetProperty("isFailure").GetBoolean(), Body);
        Assert.Equal(JsonValueKind.Null, Json.GetProperty("value").ValueKind);
        var error = Json.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), Body);
        Assert.Equal(JsonValueKind.Array, error.GetProperty("info").ValueKind);
        Assert.Equal(4, Json.EnumerateObject().Count());
        return this;
    }
}
