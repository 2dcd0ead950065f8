using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Kiota.Abstractions.Serialization;
using Microsoft.Kiota.Http.HttpClientLibrary;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware.Options;
using TenantInvitations.Client;
using TenantInvitations.Client.Generated.Models;

namespace TenantInvitations.Tests.Clients;

// The C# client package against the real service process: its pickup folder is the mailbox, tokens come from its `token`
// command. Each test makes its own tenant.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class CSharpClientTests(ClientServiceFixture service) : IClassFixture<ClientServiceFixture>
{
    [Fact]
    public async Task Platform_admin_creates_a_tenant_whose_owner_accepts_anonymously_and_is_listed_as_member()
    {
        var created = await service.Admin.Api.Tenant.PostAsync(
            new CreateTenantRequest { Name = "Acme", OwnerEmail = "owner@acme-members.test" });
        var tenant = created!.Value!;
        Assert.True(created.IsSuccess);
        Assert.Equal("Acme", tenant.Name);
        Assert.True(tenant.Id > 0);

        var token = Mailbox.TokenFrom(Assert.Single(await service.Mail.WaitForAsync("owner@acme-members.test")));
        using var anonymous = new TenantInvitationsClient(service.BaseUrl);
        var accepted = (await anonymous.Api.Invitation.Accept.PostAsync(new InvitationTokenRequest { Token = token }))!.Value!;
        Assert.Equal((tenant.Id, MemberRole.Owner), (accepted.TenantId, accepted.Role));

        var members = (await service.Admin.Api.Tenant[tenant.Id!.Value].Admin.User.GetAsync())!.Value!;
        var owner = Assert.Single(members);
        Assert.Equal((accepted.UserId, "owner@acme-members.test", MemberRole.Owner), (owner.UserId, owner.Email, owner.Role));
        var read = (await service.Admin.Api.Tenant[tenant.Id.Value].GetAsync())!.Value!;
        Assert.Equal((tenant.Id, "Acme", tenant.CreatedAt), (read.Id, read.Name, read.CreatedAt));
    }

    [Fact]
    public async Task Invitations_page_through_limit_and_the_next_cursor_and_one_is_read_by_id()
    {
        var tenantId = await service.CreateTenantAsync("paging");
        var invitations = service.Admin.Api.Tenant[tenantId].Admin.User.Invitation;
        var created = new List<UserInvitationModel>();
        foreach (var email in new[] { "a@paging.test", "b@paging.test", "c@paging.test" })
        {
            created.Add(Assert.Single((await invitations.PostAsync(new CreateInvitationRequest { Email = email }))!.Value!));
        }
        Assert.All(created, i =>
            Assert.Equal((InvitationStatus.Pending, MemberRole.Member, tenantId, 1), (i.Status, i.Role, i.TenantId, i.SendCount)));

        var seen = new List<string>();
        var pages = new List<int>();
        string? after = null;
        do
        {
            var headers = new HeadersInspectionHandlerOption { InspectResponseHeaders = true };
            var page = (await invitations.GetAsync(c =>
            {
                c.QueryParameters.Limit = 3;
                c.QueryParameters.After = after;
                c.Options.Add(headers);
            }))!.Value!;
            pages.Add(page.Count);
            seen.AddRange(page.Select(i => i.Email!));
            after = Paging.NextAfter(headers);
        }
        while (after is not null && pages.Count < 5);

        Assert.Equal([3, 1], pages);
        Assert.Equal(["c@paging.test", "b@paging.test", "a@paging.test", "owner@paging.test"], seen);

        var one = (await invitations[created[1].Id!.Value].GetAsync())!.Value!;
        Assert.Equal((created[1].Id, "b@paging.test", InvitationStatus.Pending, MemberRole.Member, ClientServiceFixture.AdminEmail),
            (one.Id, one.Email, one.Status, one.Role, one.InvitedBy));
    }

    [Fact]
    public async Task Resend_then_an_immediate_second_resend_is_429_at_once_and_exactly_one_more_email_is_sent()
    {
        var tenantId = await service.CreateTenantAsync("resend");
        var invitations = service.Admin.Api.Tenant[tenantId].Admin.User.Invitation;
        var invitation = Assert.Single((await invitations.PostAsync(new CreateInvitationRequest { Email = "dana@resend.test" }))!.Value!);
        await service.Mail.WaitForAsync("dana@resend.test");
        // The fixture's cooldown is 2 s, so the first resend waits it out once (the create was the first send).
        var wait = invitation.NextResendAt!.Value - DateTimeOffset.UtcNow;
        await Task.Delay(wait > TimeSpan.Zero ? wait + TimeSpan.FromMilliseconds(200) : TimeSpan.Zero);

        var resent = Assert.Single((await invitations.Resend.PutAsync(c => c.QueryParameters.Id = invitation.Id))!.Value!);
        Assert.Equal((invitation.Id, 2, InvitationStatus.Pending), (resent.Id, resent.SendCount, resent.Status));

        // With Kiota's RetryHandler this call slept out Retry-After and then resent (no exception, a third email).
        var refused = await Assert.ThrowsAsync<TenantInvitationsException>(
            () => invitations.Resend.PutAsync(c => c.QueryParameters.Id = invitation.Id));
        Assert.Equal(429, refused.ResponseStatusCode);
        Assert.Equal("RateLimited", refused.Code);
        Assert.Equal("This invitation was sent moments ago; wait for the cooldown to pass.", refused.Message);
        Assert.Matches(@"^Retry after \d+ seconds\.$", Assert.Single(refused.Info));
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromSeconds(1), ClientServiceFixture.ResendCooldown);
        Assert.Matches("^[0-9a-f]{32}$", refused.TraceId);

        // The refusal queued nothing: the create's email and the one resend, and the invitation says it was sent twice.
        var sent = await Eventually.ValueAsync(
            async () => (await invitations[invitation.Id!.Value].GetAsync())!.Value!,
            i => i.Delivery?.Status == DeliveryStatus.Sent);
        Assert.Equal(2, sent.SendCount);
        Assert.Equal(2, service.Mail.To("dana@resend.test").Length);
    }

    [Fact]
    public async Task Revoke_answers_the_revoked_invitation_and_a_second_revoke_is_409_with_its_status_in_info()
    {
        var tenantId = await service.CreateTenantAsync("revoke");
        var invitations = service.Admin.Api.Tenant[tenantId].Admin.User.Invitation;
        var invitation = Assert.Single((await invitations.PostAsync(new CreateInvitationRequest { Email = "eve@revoke.test" }))!.Value!);

        var revoked = Assert.Single((await invitations.Revoke.PutAsync(c => c.QueryParameters.Id = invitation.Id))!.Value!);
        Assert.Equal((invitation.Id, "eve@revoke.test", InvitationStatus.Revoked), (revoked.Id, revoked.Email, revoked.Status));
        Assert.NotNull(revoked.RevokedAt);

        var again = await Assert.ThrowsAsync<TenantInvitationsException>(
            () => invitations.Revoke.PutAsync(c => c.QueryParameters.Id = invitation.Id));
        Assert.Equal((409, "InvitationNotPending", "The invitation is Revoked and can no longer change."),
            (again.ResponseStatusCode, again.Code, again.Message));
        Assert.Equal(["status: Revoked"], again.Info);
    }

    [Fact]
    public async Task Settings_put_with_one_field_changes_only_that_field()
    {
        var tenantId = await service.CreateTenantAsync("settings");
        var settings = service.Admin.Api.Tenant[tenantId].Admin.Settings;
        var before = (await settings.GetAsync())!.Value!;

        var after = (await settings.PutAsync(new TenantSettingsRequest { DisplayName = "Settings People" }))!.Value!;

        Assert.Equal("Settings People", after.DisplayName);
        Assert.Equal((before.Name, before.ReplyTo, before.DefaultLocale, before.InvitationValidityDays, before.EmailsPerHour),
            (after.Name, after.ReplyTo, after.DefaultLocale, after.InvitationValidityDays, after.EmailsPerHour));
        Assert.Equal(before.AllowedEmailDomains ?? [], after.AllowedEmailDomains ?? []);
        var read = (await settings.GetAsync())!.Value!;
        Assert.Equal(("Settings People", before.EmailsPerHour), (read.DisplayName, read.EmailsPerHour));
    }

    [Fact]
    public async Task Events_feed_shows_the_tenant_and_invitation_events_with_a_next_cursor()
    {
        var tenantId = await service.CreateTenantAsync("events");
        var invitations = service.Admin.Api.Tenant[tenantId].Admin.User.Invitation;
        var invitation = Assert.Single((await invitations.PostAsync(new CreateInvitationRequest { Email = "finn@events.test" }))!.Value!);
        await invitations.Revoke.PutAsync(c => c.QueryParameters.Id = invitation.Id);

        var headers = new HeadersInspectionHandlerOption { InspectResponseHeaders = true };
        var feed = (await service.Admin.Api.Tenant[tenantId].Admin.Events.GetAsync(c => c.Options.Add(headers)))!.Value!;

        string[] changes = ["tenant.created", "invitation.created", "invitation.revoked"];
        var seen = new List<(string?, long?, string?)>();
        foreach (var e in feed.Where(e => changes.Contains(e.Type)))
        {
            var data = JsonDocument.Parse(await KiotaJsonSerializer.SerializeAsStringAsync(e.Data!)).RootElement;
            seen.Add((e.Type, e.TenantId, data.TryGetProperty("email", out var email) ? email.GetString() : data.GetProperty("name").GetString()));
        }
        Assert.Equal(
        [
            ("tenant.created", tenantId, "events"),
            ("invitation.created", tenantId, "owner@events.test"),
            ("invitation.created", tenantId, "finn@events.test"),
            ("invitation.revoked", tenantId, "finn@events.test"),
        ], seen);
        var revokedEvent = feed.Single(e => e.Type == "invitation.revoked");
        Assert.Equal((ClientServiceFixture.AdminEmail, true), (revokedEvent.Actor?.Email, revokedEvent.Actor?.IsPlatformAdmin));
        Assert.False(string.IsNullOrEmpty(Paging.NextAfter(headers)), "Every page of the feed links to the next one.");
    }

    [Fact]
    public async Task Webhook_created_through_the_client_returns_its_secret_once_and_receives_signed_events()
    {
        var tenantId = await service.CreateTenantAsync("hooks");
        await using var receiver = await WebhookReceiver.StartAsync();
        var webhooks = service.Admin.Api.Tenant[tenantId].Admin.Webhooks;

        var created = (await webhooks.PostAsync(new CreateWebhookRequest
        {
            Url = receiver.Url, Types = ["invitation.created"], Description = "client test",
        }))!.Value!;
        Assert.Equal((receiver.Url, "client test", true), (created.Url, created.Description, created.Enabled));
        Assert.Equal(["invitation.created"], created.Types);
        var secret = created.Secret ?? "";
        Assert.True(secret.StartsWith("whsec_", StringComparison.Ordinal) && Convert.FromBase64String(secret["whsec_".Length..]).Length == 32,
            "The secret is whsec_ and 32 random bytes in base64.");

        var read = (await webhooks[created.Id!.Value].GetAsync())!.Value!;
        Assert.Equal((created.Id, receiver.Url), (read.Id, read.Url));
        Assert.DoesNotContain("secret", read.AdditionalData.Keys);
        Assert.DoesNotContain(created.Id, (await webhooks.GetAsync())!.Value!.Where(w => w.AdditionalData.ContainsKey("secret")).Select(w => w.Id));

        var invitation = Assert.Single((await service.Admin.Api.Tenant[tenantId].Admin.User.Invitation
            .PostAsync(new CreateInvitationRequest { Email = "gus@hooks.test" }))!.Value!);
        var delivered = Assert.Single(await receiver.WaitForCountAsync(1));
        Assert.Equal(Signatures.Verified, Signatures.VerifyWithStandardWebhooks(secret, delivered));
        var body = JsonDocument.Parse(delivered.Body).RootElement;
        var data = body.GetProperty("data");
        Assert.Equal(("invitation.created", invitation.Id, "gus@hooks.test"),
            (body.GetProperty("type").GetString(), data.GetProperty("id").GetInt64(), data.GetProperty("email").GetString()));
    }

    [Fact]
    public async Task Bulk_create_with_an_idempotency_key_replays_the_first_answer_and_creates_once()
    {
        var tenantId = await service.CreateTenantAsync("bulk");
        var invitations = service.Admin.Api.Tenant[tenantId].Admin.User.Invitation;
        var body = new BulkInvitationRequest { Invitations = [new BulkInvitationRow { Email = "hal@bulk.test" }] };
        var key = Guid.NewGuid().ToString("N");

        var first = (await invitations.Bulk.PostAsync(body, c => c.Headers.Add("Idempotency-Key", key)))!.Value!;
        var headers = new HeadersInspectionHandlerOption { InspectResponseHeaders = true };
        var replay = (await invitations.Bulk.PostAsync(body, c => { c.Headers.Add("Idempotency-Key", key); c.Options.Add(headers); }))!.Value!;

        var row = Assert.Single(first);
        Assert.Equal((BulkRowStatus.Created, "hal@bulk.test"), (row.Status, row.Invitation?.Email));
        Assert.Equal((row.Status, row.Invitation?.Id), (Assert.Single(replay).Status, Assert.Single(replay).Invitation?.Id));
        Assert.Equal("true", Assert.Single(headers.ResponseHeaders["Idempotent-Replayed"]));
        var listed = (await invitations.GetAsync(c => c.QueryParameters.Email = "hal@bulk.test"))!.Value!;
        Assert.Equal(row.Invitation?.Id, Assert.Single(listed).Id);
    }

    [Fact]
    public async Task Csv_import_goes_as_text_csv_and_its_results_come_back_as_csv()
    {
        var tenantId = await service.CreateTenantAsync("import");
        var imports = service.Admin.Api.Tenant[tenantId].Admin.User.Invitation.Import;
        using var file = new MemoryStream(Encoding.UTF8.GetBytes("email,role\nivy@import.test,Admin\nnot-an-address,\n"));

        var started = (await imports.PostAsync(file))!.Value!;
        Assert.Equal(2, started.TotalRows);
        var finished = await Eventually.ValueAsync(async () => (await imports[started.Id!.Value].GetAsync())!.Value!,
            i => i.Status == ImportStatus.Completed);
        Assert.Equal((2, 1, 0, 1), (finished.ProcessedRows, finished.Created, finished.Skipped, finished.Failed));

        using var results = new StreamReader((await imports[started.Id!.Value].Results.GetAsync())!);
        var lines = (await results.ReadToEndAsync()).TrimStart('\uFEFF').Trim().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal("line,email,status,invitationId,error", lines[0]);
        Assert.Equal([["2", "ivy@import.test", "Created"], ["3", "not-an-address", "Invalid"]], lines[1..].Select(l => l.Split(',')[..3]).ToArray());
        var missing = await Assert.ThrowsAsync<TenantInvitationsException>(() => imports[999_999_999].Results.GetAsync());
        Assert.Equal((404, "NotFound"), (missing.ResponseStatusCode, missing.Code));
    }

    [Fact]
    public async Task Unknown_invitation_is_a_404_exception_with_the_envelope_code_and_message()
    {
        var tenantId = await service.CreateTenantAsync("missing");

        var missing = await Assert.ThrowsAsync<TenantInvitationsException>(
            () => service.Admin.Api.Tenant[tenantId].Admin.User.Invitation[987_654_321].GetAsync());

        Assert.Equal((404, "NotFound", "The invitation was not found."), (missing.ResponseStatusCode, missing.Code, missing.Message));
        Assert.Empty(missing.Info);
        Assert.Null(missing.RetryAfter);
        Assert.Matches("^[0-9a-f]{32}$", missing.TraceId);
    }

    [Fact]
    public async Task Without_a_token_an_admin_call_is_a_401_exception()
    {
        var tenantId = await service.CreateTenantAsync("anonymous");
        using var anonymous = new TenantInvitationsClient(service.BaseUrl);

        var refused = await Assert.ThrowsAsync<TenantInvitationsException>(
            () => anonymous.Api.Tenant[tenantId].Admin.User.Invitation.GetAsync());

        Assert.Equal((401, "Unauthorized", "Authentication is required."), (refused.ResponseStatusCode, refused.Code, refused.Message));
        Assert.Equal(["Send an 'Authorization: Bearer <token>' header."], refused.Info);
    }

    [Fact]
    public async Task Pack_produces_the_nupkg_with_the_library_and_its_readme()
    {
        var output = Directory.CreateTempSubdirectory("ti-pack-").FullName;
        try
        {
            var project = Path.Combine(Repository.Root, "clients", "csharp", "TenantInvitations.Client", "TenantInvitations.Client.csproj");
            var pack = await ExternalCommand.RunAsync("dotnet", ["pack", project, "-o", output, "--nologo", "--no-restore"], Repository.Root,
                timeout: TimeSpan.FromMinutes(4));
            Assert.True(pack.Exit == 0, $"dotnet pack failed:\n{pack.All}");

            var package = Path.Combine(output, "TenantInvitations.Client.1.0.0.nupkg");
            Assert.True(File.Exists(package),
                $"No {Path.GetFileName(package)} in: {string.Join(", ", Directory.GetFiles(output).Select(Path.GetFileName))}");
            using var zip = ZipFile.OpenRead(package);
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("lib/net10.0/TenantInvitations.Client.dll", entries);
            Assert.Contains("README.md", entries);
            using var nuspec = new StreamReader(zip.GetEntry("TenantInvitations.Client.nuspec")!.Open());
            var manifest = await nuspec.ReadToEndAsync();
            Assert.Contains("<readme>README.md</readme>", manifest);
            Assert.Contains("id=\"Microsoft.Kiota.Http.HttpClientLibrary\" version=\"2.1.6\"", manifest);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}

// No service needed: the client's own contract, against answers made up here.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class CSharpClientContractTests
{
    [Theory]
    [InlineData("ftp://invitations.example.com")]
    [InlineData("/tenant")]
    [InlineData("invitations.example.com")]
    [InlineData("")]
    public void Base_url_must_be_absolute_http_or_https(string baseUrl)
    {
        var refused = Assert.Throws<ArgumentException>(() => new TenantInvitationsClient(baseUrl));
        Assert.Equal("baseUrl", refused.ParamName);
    }

    [Fact]
    public void The_pipeline_has_no_retry_handler()
    {
        var handlers = TenantInvitationsClient.CreateHandlers();
        Assert.DoesNotContain(handlers, h => h.GetType().Name.Contains("Retry", StringComparison.Ordinal));
        Assert.Contains(handlers, h => h is Microsoft.Kiota.Http.HttpClientLibrary.Middleware.RedirectHandler);
    }

    [Theory]
    [InlineData(502, "text/html", "<html><body>Bad gateway</body></html>")]
    [InlineData(503, "text/html", "<html>Down for maintenance</html>")]
    [InlineData(429, "text/plain", "slow down")]
    [InlineData(500, "application/json", "{\"isSuccess\":false,")]
    [InlineData(404, "application/json", "[1,2]")]
    [InlineData(504, null, null)]
    public async Task An_error_answer_without_an_envelope_is_an_exception_with_null_code(int status, string? contentType, string? body)
    {
        var answer = new StubAnswer(status, contentType, body);
        using var http = KiotaClientFactory.Create(TenantInvitationsClient.CreateHandlers(), answer);
        using var client = new TenantInvitationsClient("https://invitations.example.com", httpClient: http);

        var refused = await Assert.ThrowsAsync<TenantInvitationsException>(() => client.Api.Tenant[1].GetAsync());

        Assert.Equal((status, null), (refused.ResponseStatusCode, refused.Code));
        Assert.Equal($"The service answered HTTP {status} without its error envelope.", refused.Message);
        Assert.Empty(refused.Info);
        Assert.Equal(1, answer.Requests);
    }

    [Fact]
    public async Task Envelope_code_unknown_to_this_client_comes_through_and_retry_after_may_be_a_date()
    {
        var at = DateTimeOffset.UtcNow.AddMinutes(2);
        var answer = new StubAnswer(503, "application/json",
            """{"isSuccess":false,"isFailure":true,"error":{"code":"SomethingNew","message":"Later.","info":["a","b"]},"value":null}""")
        {
            RetryAfter = at.ToString("r", System.Globalization.CultureInfo.InvariantCulture),
        };
        using var http = KiotaClientFactory.Create(TenantInvitationsClient.CreateHandlers(), answer);
        using var client = new TenantInvitationsClient("https://invitations.example.com/", _ => ValueTask.FromResult<string?>("t0k3n"), http);

        var refused = await Assert.ThrowsAsync<TenantInvitationsException>(
            () => client.Api.Tenant[7].Admin.User.Invitation.Resend.PutAsync(c => c.QueryParameters.Id = 3));

        Assert.Equal((503, "SomethingNew", "Later."), (refused.ResponseStatusCode, refused.Code, refused.Message));
        Assert.Equal(["a", "b"], refused.Info);
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(120));
        Assert.Equal(1, answer.Requests);
        Assert.Equal("https://invitations.example.com/tenant/7/admin/user/invitation/resend?id=3", answer.LastUri?.ToString());
        Assert.True(answer.LastAuthorization == "Bearer t0k3n", "The bearer token goes to the service's own origin.");
    }

    // Kiota's adapter answers a 401 whose challenge carries claims (continuous access evaluation) by sending the request again.
    [Fact]
    public async Task A_401_challenge_with_claims_does_not_send_the_resend_again()
    {
        var answer = new StubAnswer(401, "application/json",
            """{"isSuccess":false,"isFailure":true,"error":{"code":"Unauthorized","message":"Authentication is required.","info":[]},"value":null}""")
        {
            WwwAuthenticate = "Bearer realm=\"\", error=\"insufficient_claims\", claims=\"eyJhY2Nlc3NfdG9rZW4iOnt9fQ==\"",
        };
        using var http = KiotaClientFactory.Create(TenantInvitationsClient.CreateHandlers(), answer);
        using var client = new TenantInvitationsClient("https://invitations.example.com", _ => ValueTask.FromResult<string?>("t0k3n"), http);

        var refused = await Assert.ThrowsAsync<TenantInvitationsException>(
            () => client.Api.Tenant[7].Admin.User.Invitation.Resend.PutAsync(c => c.QueryParameters.Id = 3));

        Assert.Equal((401, "Unauthorized"), (refused.ResponseStatusCode, refused.Code));
        Assert.Equal(1, answer.Requests);
    }

    [Theory]
    [InlineData("99999999999999999", null)]
    [InlineData("120", 120)]
    [InlineData("soon", null)]
    public async Task Retry_after_beyond_any_wait_or_unreadable_is_null(string header, int? seconds)
    {
        var answer = new StubAnswer(429, "application/json",
            """{"isSuccess":false,"isFailure":true,"error":{"code":"RateLimited","message":"Later.","info":[]},"value":null}""") { RetryAfter = header };
        using var http = KiotaClientFactory.Create(TenantInvitationsClient.CreateHandlers(), answer);
        using var client = new TenantInvitationsClient("https://invitations.example.com", httpClient: http);

        var refused = await Assert.ThrowsAsync<TenantInvitationsException>(() => client.Api.Tenant[1].GetAsync());

        Assert.Equal(seconds is null ? null : TimeSpan.FromSeconds(seconds.Value), refused.RetryAfter);
    }

    [Fact]
    public async Task The_token_is_not_sent_to_another_origin()
    {
        var answer = new StubAnswer(200, "application/json", """{"isSuccess":true,"isFailure":false,"error":null,"value":{"id":1,"name":"A"}}""");
        using var http = KiotaClientFactory.Create(TenantInvitationsClient.CreateHandlers(), answer);
        using var client = new TenantInvitationsClient("https://invitations.example.com", _ => ValueTask.FromResult<string?>("t0k3n"), http);

        var tenant = (await client.Api.Tenant[1].WithUrl("https://elsewhere.example.net/tenant/1").GetAsync())!.Value!;

        Assert.Equal((1L, "A"), (tenant.Id, tenant.Name));
        Assert.True(answer.LastAuthorization is null, "No Authorization header went to another host.");
    }

    private sealed class StubAnswer(int status, string? contentType, string? body) : HttpMessageHandler
    {
        public int Requests;
        public string? RetryAfter { get; init; }
        public string? WwwAuthenticate { get; init; }
        public Uri? LastUri { get; private set; }
        public string? LastAuthorization { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Requests);
            LastUri = request.RequestUri;
            LastAuthorization = request.Headers.Authorization?.ToString();
            var response = new HttpResponseMessage((HttpStatusCode)status) { RequestMessage = request };
            if (body is not null)
            {
                response.Content = new StringContent(body, Encoding.UTF8, contentType!);
            }
            if (RetryAfter is not null)
            {
                response.Headers.TryAddWithoutValidation("Retry-After", RetryAfter);
            }
            if (WwwAuthenticate is not null)
            {
                response.Headers.TryAddWithoutValidation("WWW-Authenticate", WwwAuthenticate);
            }
            return Task.FromResult(response);
        }
    }
}

// One service process for a test class (the C# client's, the TypeScript client's): Development defaults in a throwaway folder (emails as files in data/mail), fast
// dispatchers, a 2-second resend cooldown, and webhooks allowed to a loopback receiver over http.
public sealed class ClientServiceFixture : IAsyncLifetime
{
    public const string AdminSubject = "root";
    public const string AdminEmail = "root@client.test";
    public static readonly TimeSpan ResendCooldown = TimeSpan.FromSeconds(2);
    private readonly string folder = Directory.CreateTempSubdirectory("ti-client-").FullName;
    private ServiceProcess? process;
    private TenantInvitationsClient? admin;

    public string BaseUrl => process!.BaseAddress.ToString();
    public TenantInvitationsClient Admin => admin!;
    // The platform admin's bearer token (the TypeScript tests hand it to node), and the pickup folder the emails go to.
    public string AdminToken { get; private set; } = "";
    public string MailFolder => Path.Combine(folder, "data", "mail");
    public Mailbox Mail => new(MailFolder);

    public async Task InitializeAsync()
    {
        process = ServiceProcess.Start(folder, $"--Invitations:ResendCooldown={ResendCooldown:c}", "--Email:PollInterval=00:00:00.200",
            "--Webhooks:AllowHttp=true", "--Webhooks:AllowPrivateNetworks=true", "--Webhooks:PollInterval=00:00:00.100");
        await process.WaitUntilReadyAsync();
        var (exit, stdout, stderr) = await ServiceProcess.RunCommandAsync(folder,
            "token", "--sub", AdminSubject, "--email", AdminEmail, "--platform-admin");
        Assert.True(exit == 0, stderr);
        AdminToken = stdout.Trim();
        admin = new TenantInvitationsClient(BaseUrl, _ => ValueTask.FromResult<string?>(AdminToken));
    }

    // A tenant of its own for each test, named after it, whose owner is invited as owner@{name}.test.
    public async Task<long> CreateTenantAsync(string name)
    {
        var created = await Admin.Api.Tenant.PostAsync(new CreateTenantRequest { Name = name, OwnerEmail = $"owner@{name}.test" });
        return created!.Value!.Id!.Value;
    }

    public Task DisposeAsync()
    {
        admin?.Dispose();
        process?.Dispose();
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // a file still held by the process as it goes; the OS cleans temp
        }
        return Task.CompletedTask;
    }
}
