using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TenantInvitations.Auth;
using TenantInvitations.Members;

namespace TenantInvitations.Tests;

// The security matrix: every endpoint, enumerated from the app's own routes, against each caller who must be refused.
// An endpoint added without a row in Cases fails Every_endpoint_has_a_case, so none can be forgotten.
public sealed partial class SecurityMatrixTests(WebhookTestApp app) : IClassFixture<WebhookTestApp>
{
    // One entry per placeholder: makes one such resource in a tenant through the API; a nested kind takes its parent from resources.IdAsync.
    private static readonly Dictionary<string, Func<TestApp, TenantResources, Task<long>>> ResourceKinds = new()
    {
        ["{invitation}"] = async (app, resources) => (await app.InviteAsync(resources.Tenant)).Id,
        ["{member}"] = async (app, resources) => (await app.AddMemberAsync(resources.Tenant, "Member")).UserId,
        ["{webhook}"] = async (app, resources) => (await QuietWebhookAsync(app, resources.Tenant)).Id,
        ["{delivery}"] = async (app, resources) => await TestDeliveryAsync(app, $"/tenant/{resources.Tenant.Id}/admin/webhooks/{await resources.IdAsync("{webhook}")}",
            resources.Tenant.OwnerToken),
        ["{platformWebhook}"] = async (app, _) => await PlatformWebhookAsync(app),
        ["{import}"] = async (app, resources) => await FinishedImportAsync(app, resources.Tenant),
        ["{platformDelivery}"] = async (app, resources) => await TestDeliveryAsync(app, $"/webhooks/{await resources.IdAsync("{platformWebhook}")}",
            app.PlatformAdminToken),
    };

    // Webhooks the matrix makes go nowhere (a closed port on loopback) and are disabled, so no event of the tests is delivered in the
    // background while snapshots are taken; only test sends go out, at once.
    private const string Nowhere = "http://127.0.0.1:9/matrix";

    private static async Task<WebhookSetup> QuietWebhookAsync(TestApp app, TenantSetup? tenant)
    {
        var webhook = await app.CreateWebhookAsync(tenant, Nowhere);
        (await app.PutAsync(webhook.Path, tenant?.OwnerToken ?? app.PlatformAdminToken, new { enabled = false })).AssertSuccess();
        return webhook;
    }

    // An import of one row, finished and its email sent, so nothing changes in the background while snapshots are taken.
    private static async Task<long> FinishedImportAsync(TestApp app, TenantSetup tenant)
    {
        var email = Scenarios.UniqueEmail("imported");
        var path = ImportsTests.ImportPath(tenant.Id);
        var id = (await app.SendAsync(HttpMethod.Post, path, tenant.OwnerToken, rawBody: $"email\n{email}\n", contentType: "text/csv"))
            .AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();
        await Eventually.ValueAsync(async () => (await app.GetAsync($"{path}/{id}", tenant.OwnerToken)).AssertSuccess().GetProperty("status").GetString(),
            status => status == "Completed");
        await app.WaitForEmailAsync(email);
        return id;
    }

    // One platform endpoint for the whole fixture: there may be only 20.
    private static async Task<long> PlatformWebhookAsync(TestApp app) =>
        (await app.GetAsync("/webhooks", app.PlatformAdminToken)).AssertSuccess().EnumerateArray().Select(w => w.GetProperty("id").GetInt64()).FirstOrDefault()
            is var existing and > 0 ? existing : (await QuietWebhookAsync(app, null)).Id;

    private static async Task<long> TestDeliveryAsync(TestApp app, string webhookPath, string token) =>
        (await app.PostAsync($"{webhookPath}/test", null, token)).AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();

    // How to call one endpoint: {t} is the tenant's id, any other placeholder an id from ResourceKinds; flags but MembersMay match the route metadata.
    private sealed record EndpointCase(string Path, Func<object>? Body = null, bool Public = false, bool MembersMay = false,
        bool PlatformOnly = false, bool Paged = false)
    {
        public IReadOnlyList<string> Kinds { get; } = [.. Placeholder().Matches(Path).Select(m => m.Value).Where(p => p != "{t}").Distinct()];

        public bool TakesId => Kinds.Count > 0;

        public bool InTenant => !Public && Path.Contains("{t}", StringComparison.Ordinal);
    }

    // Every endpoint of the app by method and route pattern (as the app names it, without a trailing slash): one row each.
    private static readonly Dictionary<string, EndpointCase> Cases = new()
    {
        ["GET /tenant/{tenantId}"] = new("/tenant/{t}", MembersMay: true),
        ["PUT /tenant/{tenantId}"] = new("/tenant/{t}", () => new { name = "Renamed by the matrix" }),
        ["GET /tenant"] = new("/tenant", PlatformOnly: true, Paged: true),
        ["GET /tenant/{tenantId}/admin/user/invitation"] = new("/tenant/{t}/admin/user/invitation", Paged: true),
        ["POST /tenant/{tenantId}/admin/user/invitation"] =
            new("/tenant/{t}/admin/user/invitation", () => new { email = Scenarios.UniqueEmail("matrix"), role = "Member" }),
        ["POST /tenant/{tenantId}/admin/user/invitation/bulk"] = new("/tenant/{t}/admin/user/invitation/bulk",
            () => new { invitations = new[] { new { email = Scenarios.UniqueEmail("matrix") } } }),
        ["POST /tenant/{tenantId}/admin/user/invitation/import"] = new("/tenant/{t}/admin/user/invitation/import"),
        ["GET /tenant/{tenantId}/admin/user/invitation/import"] = new("/tenant/{t}/admin/user/invitation/import", Paged: true),
        ["GET /tenant/{tenantId}/admin/user/invitation/import/{importId}"] = new("/tenant/{t}/admin/user/invitation/import/{import}"),
        ["DELETE /tenant/{tenantId}/admin/user/invitation/import/{importId}"] = new("/tenant/{t}/admin/user/invitation/import/{import}"),
        ["GET /tenant/{tenantId}/admin/user/invitation/import/{importId}/results"] = new("/tenant/{t}/admin/user/invitation/import/{import}/results"),
        ["GET /tenant/{tenantId}/admin/user/invitation/{id}"] = new("/tenant/{t}/admin/user/invitation/{invitation}"),
        ["PUT /tenant/{tenantId}/admin/user/invitation/resend"] = new("/tenant/{t}/admin/user/invitation/resend?id={invitation}"),
        ["PUT /api/tenant/{tenantId}/invitations/resend"] = new("/api/tenant/{t}/invitations/resend?id={invitation}"),
        ["PUT /tenant/{tenantId}/admin/user/invitation/revoke"] = new("/tenant/{t}/admin/user/invitation/revoke?id={invitation}"),
        ["GET /tenant/{tenantId}/admin/user/invitation/{id}/email"] = new("/tenant/{t}/admin/user/invitation/{invitation}/email"),
        ["GET /tenant/{tenantId}/admin/user/invitation/{id}/history"] = new("/tenant/{t}/admin/user/invitation/{invitation}/history"),
        ["GET /tenant/{tenantId}/admin/user"] = new("/tenant/{t}/admin/user", Paged: true),
        ["PUT /tenant/{tenantId}/admin/user/role"] = new("/tenant/{t}/admin/user/role?id={member}", () => new { role = "Admin" }),
        ["DELETE /tenant/{tenantId}/admin/user"] = new("/tenant/{t}/admin/user?id={member}"),
        ["GET /tenant/{tenantId}/admin/audit"] = new("/tenant/{t}/admin/audit", Paged: true),
        ["GET /tenant/{tenantId}/admin/settings"] = new("/tenant/{t}/admin/settings"),
        ["PUT /tenant/{tenantId}/admin/settings"] = new("/tenant/{t}/admin/settings", () => new { displayName = "Changed by the matrix" }),
        ["POST /tenant"] = new("/tenant", () => new { name = "Matrix", ownerEmail = Scenarios.UniqueEmail("matrix") }, PlatformOnly: true),
        ["GET /me/tenants"] = new("/me/tenants"),
        ["GET /tenant/{tenantId}/admin/events"] = new("/tenant/{t}/admin/events", Paged: true),
        ["GET /events"] = new("/events", PlatformOnly: true, Paged: true),
        ["POST /tenant/{tenantId}/admin/webhooks"] = new("/tenant/{t}/admin/webhooks", () => new { url = Nowhere, types = new[] { "tenant.created" } }),
        ["GET /tenant/{tenantId}/admin/webhooks"] = new("/tenant/{t}/admin/webhooks"),
        ["GET /tenant/{tenantId}/admin/webhooks/{id}"] = new("/tenant/{t}/admin/webhooks/{webhook}"),
        ["PUT /tenant/{tenantId}/admin/webhooks/{id}"] = new("/tenant/{t}/admin/webhooks/{webhook}", () => new { description = "Changed by the matrix" }),
        ["DELETE /tenant/{tenantId}/admin/webhooks/{id}"] = new("/tenant/{t}/admin/webhooks/{webhook}"),
        ["POST /tenant/{tenantId}/admin/webhooks/{id}/rotate-secret"] = new("/tenant/{t}/admin/webhooks/{webhook}/rotate-secret"),
        ["POST /tenant/{tenantId}/admin/webhooks/{id}/test"] = new("/tenant/{t}/admin/webhooks/{webhook}/test"),
        ["GET /tenant/{tenantId}/admin/webhooks/{id}/deliveries"] = new("/tenant/{t}/admin/webhooks/{webhook}/deliveries", Paged: true),
        ["POST /tenant/{tenantId}/admin/webhooks/{id}/deliveries/{deliveryId}/retry"] =
            new("/tenant/{t}/admin/webhooks/{webhook}/deliveries/{delivery}/retry"),
        ["POST /webhooks"] = new("/webhooks", () => new { url = Nowhere, types = new[] { "tenant.created" } }, PlatformOnly: true),
        ["GET /webhooks"] = new("/webhooks", PlatformOnly: true),
        ["GET /webhooks/{id}"] = new("/webhooks/{platformWebhook}", PlatformOnly: true),
        ["PUT /webhooks/{id}"] = new("/webhooks/{platformWebhook}", () => new { description = "Changed by the matrix" }, PlatformOnly: true),
        ["DELETE /webhooks/{id}"] = new("/webhooks/{platformWebhook}", PlatformOnly: true),
        ["POST /webhooks/{id}/rotate-secret"] = new("/webhooks/{platformWebhook}/rotate-secret", PlatformOnly: true),
        ["POST /webhooks/{id}/test"] = new("/webhooks/{platformWebhook}/test", PlatformOnly: true),
        ["GET /webhooks/{id}/deliveries"] = new("/webhooks/{platformWebhook}/deliveries", PlatformOnly: true, Paged: true),
        ["POST /webhooks/{id}/deliveries/{deliveryId}/retry"] =
            new("/webhooks/{platformWebhook}/deliveries/{platformDelivery}/retry", PlatformOnly: true),
        // The public endpoints, for completeness: the invitation token (or nothing) is their credential.
        ["GET /invitation"] = new("/invitation?token=x", Public: true),
        ["POST /invitation/accept"] = new("/invitation/accept", Public: true),
        ["POST /invitation/decline"] = new("/invitation/decline", Public: true),
        ["GET /accept"] = new("/accept", Public: true),
        ["HEAD /accept"] = new("/accept", Public: true),
        ["POST /accept"] = new("/accept", Public: true),
        ["GET /openapi/{documentName}.json"] = new("/openapi/v1.json", Public: true),
        ["* /health/live"] = new("/health/live", Public: true),
        ["* /health/ready"] = new("/health/ready", Public: true),
        // The interactive reference, mapped in Development only.
        ["GET /docs/{documentName?}"] = new("/docs", Public: true),
        ["GET /docs/scalar.js"] = new("/docs/scalar.js", Public: true),
        ["GET /docs/scalar.aspnetcore.js"] = new("/docs/scalar.aspnetcore.js", Public: true),
        ["GET /docs/favicon.svg"] = new("/docs/favicon.svg", Public: true),
    };

    [GeneratedRegex(@"\{[A-Za-z]+\}")]
    private static partial Regex Placeholder();

    // One endpoint as the app's route table describes it: what the rows' flags are checked against.
    private sealed record Endpoint(string Method, string Pattern, RouteEndpoint Route)
    {
        public string Key => $"{Method} {Pattern}";
        public bool IsAnonymous => Route.Metadata.GetMetadata<IAllowAnonymous>() is not null;
        public bool InTenant => !IsAnonymous && Pattern.Contains("{tenantId}", StringComparison.Ordinal);
        public bool IsPlatformOnly => Route.Metadata.OfType<IAuthorizeData>().Any(a => a.Policy == AuthSetup.PlatformAdminPolicy);
        public IEnumerable<string> Parameters => Route.Metadata.OfType<MethodInfo>().SelectMany(m => m.GetParameters()).Select(p => p.Name!);
        // The ids of resources the handler takes: "id", or a name like "deliveryId"; the tenant's is not a resource's.
        public int IdParameters => Parameters.Count(p => p == "id" || (p.EndsWith("Id", StringComparison.Ordinal) && p != "tenantId"));
        public bool IsPaged => Parameters.Contains("limit");
    }

    // The API's endpoints; the console's pages (cookie sessions, HTML answers) have a matrix of their own, ConsoleMatrixTests.
    private IReadOnlyList<Endpoint> AppEndpoints() =>
    [
        .. app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => !ConsoleMatrixTests.IsConsole(e))
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(method => new Endpoint(method, "/" + e.RoutePattern.RawText!.Trim('/'), e))),
    ];

    // The app's endpoints its route metadata selects, each with its row: as many as the table's rows say so, and at least one.
    private List<(Endpoint Endpoint, EndpointCase Case)> Matrix(Func<Endpoint, bool> byRoute, Func<EndpointCase, bool> byRow)
    {
        var endpoints = AppEndpoints().Where(byRoute).ToList();
        AssertNone(endpoints.Where(e => !Cases.ContainsKey(e.Key)).Select(e => e.Key), "Endpoints without a row in Cases");
        var matrix = endpoints.Select(e => (Endpoint: e, Case: Cases[e.Key])).ToList();
        Assert.NotEmpty(matrix);
        Assert.Equal(Cases.Values.Count(byRow), matrix.Count);
        Assert.All(matrix, m => Assert.True(byRow(m.Case), $"{m.Endpoint.Key}: its row disagrees with its route metadata"));
        return matrix;
    }

    private List<(Endpoint Endpoint, EndpointCase Case)> TenantEndpoints() => Matrix(e => e.InTenant, c => c.InTenant);

    private List<(Endpoint Endpoint, EndpointCase Case)> AuthenticatedEndpoints() => Matrix(e => !e.IsAnonymous, c => !c.Public);

    [Fact]
    public void Every_endpoint_has_a_case_and_every_case_an_endpoint()
    {
        var endpoints = AppEndpoints();

        AssertNone(endpoints.Where(e => !Cases.ContainsKey(e.Key)).Select(e => e.Key), "Endpoints without a row in Cases");
        AssertNone(Cases.Keys.Except(endpoints.Select(e => e.Key)), "Rows in Cases without an endpoint");
        // A row's flags agree with the route metadata, so a wrong flag can't leave an endpoint out of the tests below.
        var authenticated = endpoints.Where(e => !e.IsAnonymous).ToList();
        AssertNone(endpoints.Where(e => e.IsAnonymous != Cases[e.Key].Public).Select(e => e.Key), "Public is wrong for");
        AssertNone(endpoints.Where(e => e.InTenant != Cases[e.Key].InTenant).Select(e => e.Key), "{t} in the path is wrong for");
        AssertNone(authenticated.Where(e => e.IsPlatformOnly != Cases[e.Key].PlatformOnly).Select(e => e.Key), "PlatformOnly is wrong for");
        AssertNone(authenticated.Where(e => e.IdParameters != Cases[e.Key].Kinds.Count).Select(e => e.Key), "The placeholders are wrong for");
        AssertNone(authenticated.Where(e => e.Parameters.Contains("request") != (Cases[e.Key].Body is not null)).Select(e => e.Key), "Body is wrong for");
        AssertNone(authenticated.Where(e => e.IsPaged != Cases[e.Key].Paged).Select(e => e.Key), "Paged is wrong for");
        // Every placeholder is a kind the matrix can make; a platform-only path names no tenant; only tenant endpoints let Members in.
        AssertNone(Cases.Where(c => c.Value.Kinds.Any(k => !ResourceKinds.ContainsKey(k))).Select(c => c.Key), "A placeholder not in ResourceKinds in");
        AssertNone(Cases.Where(c => c.Value.PlatformOnly && c.Value.InTenant).Select(c => c.Key), "A platform-only row names a tenant");
        AssertNone(Cases.Where(c => c.Value.MembersMay && !c.Value.InTenant).Select(c => c.Key), "MembersMay outside a tenant");
        Assert.NotEmpty(TenantEndpoints());
    }

    [Fact]
    public async Task Every_tenant_endpoint_with_another_tenants_ids_is_404_NotFound_and_changes_nothing()
    {
        var a = await app.CreateTenantAsync();
        var b = await app.CreateTenantAsync();
        var withIds = Matrix(e => e.InTenant && e.IdParameters > 0, c => c.InTenant && c.TakesId);
        var ofB = await TenantResources.CreateAsync(app, b, withIds.Select(e => e.Case));
        var before = await SettledSnapshotAsync();

        var problems = new List<string>();
        foreach (var (endpoint, endpointCase) in withIds)
        {
            // A's Owner, and a platform admin, in A's path with B's ids: the path's tenant scopes every lookup.
            foreach (var (who, token) in new[] { ("A's Owner", a.OwnerToken), ("a platform admin", app.PlatformAdminToken) })
            {
                var response = await SendAsync(endpoint, ofB.Fill(endpointCase, tenantInPath: a.Id), token, endpointCase);
                Check(problems, endpoint, who, response, HttpStatusCode.NotFound, "NotFound");
            }
        }

        problems.AddRange(DatabaseSnapshot.Differences(before, await SettledSnapshotAsync()));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        // B's invitation still works: it was not revoked, resent or used.
        var invitationOfB = await app.GetAsync($"/tenant/{b.Id}/admin/user/invitation/{await ofB.IdAsync("{invitation}")}", b.OwnerToken);
        var email = invitationOfB.AssertSuccess().GetProperty("email").GetString()!;
        var link = Mailbox.TokenFrom(Assert.Single(await app.WaitForEmailAsync(email)));
        (await app.PostAsync("/invitation/accept", new { token = link })).AssertSuccess();
    }

    [Fact]
    public async Task Every_endpoint_under_another_tenant_is_403_Forbidden_for_its_Owners_and_Admins_and_changes_nothing()
    {
        var a = await app.CreateTenantAsync();
        var adminOfA = await app.AddMemberAsync(a, "Admin");
        var b = await app.CreateTenantAsync();
        var endpoints = TenantEndpoints();
        var ofB = await TenantResources.CreateAsync(app, b, endpoints.Select(e => e.Case));

        await AssertEveryEndpointIsForbiddenAsync(endpoints, ofB, [("A's Owner", a.OwnerToken), ("A's Admin", adminOfA.Token)], membersMay: false);
    }

    [Fact]
    public async Task Every_admin_endpoint_is_403_Forbidden_for_a_Member_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");
        var endpoints = TenantEndpoints();
        var resources = await TenantResources.CreateAsync(app, tenant, endpoints.Select(e => e.Case));

        await AssertEveryEndpointIsForbiddenAsync(endpoints, resources, [("a Member", member.Token)], membersMay: true);
    }

    [Fact]
    public async Task An_Admin_removed_a_moment_ago_is_403_Forbidden_on_every_tenant_endpoint_at_once()
    {
        var tenant = await app.CreateTenantAsync();
        var endpoints = TenantEndpoints();
        var resources = await TenantResources.CreateAsync(app, tenant, endpoints.Select(e => e.Case));
        var admin = await app.AddMemberAsync(tenant, "Admin");
        (await app.GetAsync($"/tenant/{tenant.Id}/admin/user", admin.Token)).AssertSuccess();

        (await app.DeleteAsync($"/tenant/{tenant.Id}/admin/user?id={admin.UserId}", tenant.OwnerToken)).AssertSuccess();

        await AssertEveryEndpointIsForbiddenAsync(endpoints, resources, [("the removed Admin", admin.Token)], membersMay: false);
    }

    [Fact]
    public async Task Every_platform_only_endpoint_is_403_Forbidden_for_a_tenant_Owner_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var endpoints = Matrix(e => e.IsPlatformOnly, c => c.PlatformOnly);
        var resources = await TenantResources.CreateAsync(app, tenant, endpoints.Select(e => e.Case));

        await AssertEveryEndpointIsForbiddenAsync(endpoints, resources, [("a tenant's Owner", tenant.OwnerToken)], membersMay: false);
    }

    [Fact]
    public async Task Every_authenticated_endpoint_refuses_bad_credentials_with_a_401_envelope_and_WWW_Authenticate_Bearer()
    {
        var tenant = await app.CreateTenantAsync();
        var endpoints = AuthenticatedEndpoints();
        var resources = await TenantResources.CreateAsync(app, tenant, endpoints.Select(e => e.Case));
        var before = await SettledSnapshotAsync();
        // Each bad token carries the platform-admin role and the Owner's email: only its flaw keeps it out.
        var credentials = BadTokens.Headers(tenant.OwnerEmail).Select(h => (h.Label, Headers: h.Header is null ? Array.Empty<string>() : [h.Header]))
            .Append(("two Authorization headers, each valid alone", [$"Bearer {tenant.OwnerToken}", $"Bearer {app.PlatformAdminToken}"]))
            .Append(("a lowercase scheme with nothing after it", ["bearer "]))
            .Append(("a token in the wrong scheme", [$"Token {tenant.OwnerToken}"]))
            .ToList();

        var problems = new List<string>();
        using var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        foreach (var (endpoint, endpointCase) in endpoints)
        {
            var path = resources.Fill(endpointCase);
            foreach (var (label, headers) in credentials)
            {
                using var request = new HttpRequestMessage(new HttpMethod(endpoint.Method), path);
                if (headers.Length > 0)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", headers);
                }
                if (endpointCase.Body?.Invoke() is { } body)
                {
                    request.Content = JsonContent.Create(body);
                }
                using var sent = await client.SendAsync(request);
                var response = await ApiResponse.ReadAsync(sent);
                if (Check(problems, endpoint, label, response, HttpStatusCode.Unauthorized, "Unauthorized")
                    && response.Headers.WwwAuthenticate.SingleOrDefault()?.Scheme != "Bearer")
                {
                    problems.Add($"{endpoint.Key} with {label}: WWW-Authenticate is '{response.Headers.WwwAuthenticate}'");
                }
            }
        }

        problems.AddRange(DatabaseSnapshot.Differences(before, await SettledSnapshotAsync()));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task Every_paged_endpoint_refuses_a_limit_above_the_maximum_with_400()
    {
        var tenant = await app.CreateTenantAsync();
        var paged = Matrix(e => !e.IsAnonymous && e.IsPaged, c => c.Paged);
        var resources = await TenantResources.CreateAsync(app, tenant, paged.Select(e => e.Case));

        foreach (var (endpoint, endpointCase) in paged)
        {
            // Callers who may list it: the tenant's Owner, or a platform admin where only they may.
            var token = endpointCase.PlatformOnly ? app.PlatformAdminToken : tenant.OwnerToken;
            var path = resources.Fill(endpointCase);
            var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
            foreach (var limit in new[] { "101", "1000", "2147483647" })
            {
                var response = await app.SendAsync(new HttpMethod(endpoint.Method), $"{path}{separator}limit={limit}", token);
                Assert.Equal(["The limit must be from 1 to 100."], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
            }
            (await app.SendAsync(new HttpMethod(endpoint.Method), $"{path}{separator}limit=100", token)).AssertSuccess();
        }
    }

    [Fact]
    public async Task No_read_shows_a_webhook_secret_whoever_may_read_it()
    {
        var tenant = await app.CreateTenantAsync();
        var reads = AppEndpoints().Where(e => !e.IsAnonymous && e.Method == "GET").Select(e => (Endpoint: e, Case: Cases[e.Key])).ToList();
        var resources = await TenantResources.CreateAsync(app, tenant, reads.Select(r => r.Case));
        var ofTenant = await QuietWebhookAsync(app, tenant);
        var rotated = (await app.PostAsync($"{ofTenant.Path}/rotate-secret", null, tenant.OwnerToken)).AssertSuccess().GetProperty("secret").GetString()!;
        app.RememberSecret(rotated);
        var ofPlatform = await QuietWebhookAsync(app, null);
        string[] secrets = [ofTenant.Secret, rotated, ofPlatform.Secret];

        Assert.Contains(reads, r => r.Endpoint.Pattern.Contains("webhooks", StringComparison.Ordinal));
        var problems = new List<string>();
        var paths = reads.Select(r => (r.Endpoint.Key, Path: resources.Fill(r.Case), Token: r.Case.PlatformOnly ? app.PlatformAdminToken : tenant.OwnerToken))
            .Append(("the tenant webhook", ofTenant.Path, tenant.OwnerToken)).Append(("the platform webhook", ofPlatform.Path, app.PlatformAdminToken));
        foreach (var (what, path, token) in paths)
        {
            var response = await app.GetAsync(path, token);
            if (response.Status != HttpStatusCode.OK)
            {
                problems.Add($"{what}: {(int)response.Status} {response.Body}");
            }
            problems.AddRange(secrets.Where(s => response.Body.Contains(s["whsec_".Length..], StringComparison.Ordinal)).Select(_ => $"{what}: a secret"));
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    // ---- mass assignment: server-owned fields in a body are ignored (InvitationsTests covers creating an invitation) ----

    [Fact]
    public async Task Server_owned_fields_in_a_new_tenant_are_ignored()
    {
        var ownerEmail = Scenarios.UniqueEmail("owner");
        const long forgedId = 515151515151;

        var response = await app.PostAsync("/tenant", new
        {
            name = "Honest Ltd",
            ownerEmail,
            id = forgedId,
            createdAt = "2001-01-01T00:00:00Z",
            displayName = "Forged display name",
            emailsPerHour = 1_000_000,
            allowedEmailDomains = new[] { "forged.example" },
            role = "Member",
            isPlatformAdmin = true,
        }, app.PlatformAdminToken);

        var model = response.AssertSuccess(HttpStatusCode.Created);
        var id = model.GetProperty("id").GetInt64();
        Assert.NotEqual(forgedId, id);
        Assert.Equal(app.Clock.GetUtcNow().UtcDateTime, model.GetProperty("createdAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        var tenant = await app.QueryAsync(db => db.Tenants.AsNoTracking().SingleAsync(t => t.Id == id));
        Assert.Equal(("Honest Ltd", (string?)null, (int?)null, "en"), (tenant.Name, tenant.DisplayName, tenant.EmailsPerHour, tenant.DefaultLocale));
        Assert.Empty(tenant.AllowedEmailDomains);
        Assert.False(await app.QueryAsync(db => db.Tenants.AnyAsync(t => t.Id == forgedId)));
        // The first invitation is the Owner's, whatever role the body names.
        var invitation = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.TenantId == id));
        Assert.Equal((ownerEmail, MemberRole.Owner), (invitation.Email, invitation.Role));
    }

    [Fact]
    public async Task Server_owned_fields_in_a_role_change_are_ignored()
    {
        var tenant = await app.CreateTenantAsync();
        var other = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");
        var bystander = await app.AddMemberAsync(tenant, "Member");
        var before = await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().AsNoTracking().SingleAsync(m => m.UserId == member.UserId));

        var response = await app.PutAsync($"/tenant/{tenant.Id}/admin/user/role?id={member.UserId}", tenant.OwnerToken, new
        {
            role = "Admin",
            userId = bystander.UserId,
            tenantId = other.Id,
            email = "forged@example.test",
            displayName = "Forged",
            joinedAt = "2001-01-01T00:00:00Z",
            isPlatformAdmin = true,
        });

        var value = response.AssertSuccess();
        Assert.Equal((member.UserId, member.Email, "Admin"),
            (value.GetProperty("userId").GetInt64(), value.GetProperty("email").GetString(), value.GetProperty("role").GetString()));
        var memberships = await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().AsNoTracking()
            .Where(m => m.UserId == member.UserId || m.UserId == bystander.UserId)
            .Select(m => new { m.UserId, m.TenantId, m.Role, m.JoinedAt, m.User.Email, m.User.DisplayName })
            .OrderBy(m => m.UserId).ToListAsync());
        Assert.Equal(2, memberships.Count);
        Assert.All(memberships, m => Assert.Equal(tenant.Id, m.TenantId));
        Assert.Equal(MemberRole.Admin, memberships.Single(m => m.UserId == member.UserId).Role);
        Assert.Equal(MemberRole.Member, memberships.Single(m => m.UserId == bystander.UserId).Role);
        Assert.Equal(before.JoinedAt, memberships.Single(m => m.UserId == member.UserId).JoinedAt);
        Assert.Equal(member.Email, memberships.Single(m => m.UserId == member.UserId).Email);
        Assert.Null(memberships.Single(m => m.UserId == member.UserId).DisplayName);
    }

    [Fact]
    public async Task Server_owned_fields_in_the_settings_are_ignored()
    {
        var tenant = await app.CreateTenantAsync("Original Name");
        var other = await app.CreateTenantAsync("Other Name");
        var otherBefore = await app.GetAsync($"/tenant/{other.Id}/admin/settings", other.OwnerToken);

        var response = await app.PutAsync($"/tenant/{tenant.Id}/admin/settings", tenant.OwnerToken, new
        {
            displayName = "Shown Name",
            name = "Renamed",
            id = other.Id,
            tenantId = other.Id,
            createdAt = "2001-01-01T00:00:00Z",
        });

        var value = response.AssertSuccess();
        Assert.Equal(("Original Name", "Shown Name"), (value.GetProperty("name").GetString(), value.GetProperty("displayName").GetString()));
        var stored = await app.QueryAsync(db => db.Tenants.AsNoTracking().Where(t => t.Id == tenant.Id || t.Id == other.Id)
            .OrderBy(t => t.Id).Select(t => new { t.Id, t.Name, t.DisplayName }).ToListAsync());
        Assert.Equal((tenant.Id, "Original Name", "Shown Name"),
            (stored.Single(t => t.Id == tenant.Id).Id, stored.Single(t => t.Id == tenant.Id).Name, stored.Single(t => t.Id == tenant.Id).DisplayName));
        Assert.Equal(("Other Name", (string?)null), (stored.Single(t => t.Id == other.Id).Name, stored.Single(t => t.Id == other.Id).DisplayName));
        Assert.Equal(otherBefore.Body, (await app.GetAsync($"/tenant/{other.Id}/admin/settings", other.OwnerToken)).Body);
    }

    [Fact]
    public async Task An_Admin_claiming_platform_admin_or_Owner_in_the_body_still_may_not_invite_or_make_an_Owner()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");
        var email = Scenarios.UniqueEmail();
        var before = await SettledSnapshotAsync();
        var forged = new { isPlatformAdmin = true, callerRole = "Owner", roles = new[] { "platform-admin" } };

        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation",
                new { email, role = "Owner", forged.isPlatformAdmin, forged.callerRole, forged.roles }, admin.Token))
            .AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/role?id={admin.UserId}", admin.Token,
                new { role = "Owner", forged.isPlatformAdmin, forged.callerRole, forged.roles }))
            .AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PostAsync("/tenant", new { name = "Forged", ownerEmail = email, forged.isPlatformAdmin, forged.roles }, admin.Token))
            .AssertError(HttpStatusCode.Forbidden, "Forbidden");

        Assert.Empty(DatabaseSnapshot.Differences(before, await SettledSnapshotAsync()));
    }

    // ---- size and range: a string one character past its limit, or far past it, is 400 and nothing is stored, never truncated ----

    [Theory]
    [InlineData("tenant", "name", 201)]
    [InlineData("tenant", "ownerEmail", 255)]
    [InlineData("invitation", "email", 255)]
    [InlineData("invitation", "message", 501)]
    [InlineData("invitation", "locale", 36)]
    [InlineData("settings", "displayName", 201)]
    [InlineData("settings", "replyTo", 255)]
    [InlineData("settings", "defaultLocale", 36)]
    [InlineData("settings", "allowedEmailDomains", 254)]
    [InlineData("tenant", "name", 200_000)]
    [InlineData("invitation", "message", 200_000)]
    [InlineData("settings", "allowedEmailDomains", 200_000)]
    public async Task A_string_field_past_its_limit_is_400_naming_it_and_nothing_is_stored(string body, string field, int length)
    {
        var tenant = await app.CreateTenantAsync();
        var before = await SettledSnapshotAsync();
        // Valid in every respect but its length: an address, a language tag, a domain or plain text.
        var value = field switch
        {
            "name" or "displayName" or "message" => new string('x', length),
            "ownerEmail" or "email" or "replyTo" => new string('a', length - "@example.test".Length) + "@example.test",
            "locale" or "defaultLocale" => "en" + string.Concat(Enumerable.Repeat("-abcdefgh", (length - 2) / 9 + 1))[..(length - 2)],
            _ => string.Concat(Enumerable.Repeat("abcdefgh.", length / 9 + 1))[..(length - 4)] + ".com",
        };
        Assert.Equal(length, value.Length);
        var fields = new Dictionary<string, object> { [field] = field == "allowedEmailDomains" ? new[] { value } : value };
        var (method, path) = body switch
        {
            "tenant" => (HttpMethod.Post, "/tenant"),
            "invitation" => (HttpMethod.Post, $"/tenant/{tenant.Id}/admin/user/invitation"),
            _ => (HttpMethod.Put, $"/tenant/{tenant.Id}/admin/settings"),
        };
        if (body == "tenant")
        {
            fields.TryAdd("name", "Long");
            fields.TryAdd("ownerEmail", Scenarios.UniqueEmail());
        }
        else if (body == "invitation")
        {
            fields.TryAdd("email", Scenarios.UniqueEmail());
        }

        var response = await app.SendAsync(method, path, body == "tenant" ? app.PlatformAdminToken : tenant.OwnerToken, fields);

        var problem = Assert.Single(response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Contains(field == "allowedEmailDomains" ? "allowedEmailDomains" : $"The {field} field", problem);
        Assert.True(response.Body.Length < 1000, "The value is not echoed back.");
        Assert.Empty(DatabaseSnapshot.Differences(before, await SettledSnapshotAsync()));
    }

    // ---- helpers ----

    // One tenant's resources for the matrix, made through the API before a test's snapshot, so only its requests are measured.
    private sealed class TenantResources(TestApp app, TenantSetup tenant)
    {
        private readonly Dictionary<string, long> ids = [];

        public TenantSetup Tenant => tenant;

        // Makes every resource the cases' paths name, one of each kind.
        public static async Task<TenantResources> CreateAsync(TestApp app, TenantSetup tenant, IEnumerable<EndpointCase> cases)
        {
            var resources = new TenantResources(app, tenant);
            foreach (var kind in cases.SelectMany(c => c.Kinds).Distinct())
            {
                await resources.IdAsync(kind);
            }
            return resources;
        }

        // The id of this tenant's resource of that kind, made on first use.
        public async Task<long> IdAsync(string kind)
        {
            if (!ids.TryGetValue(kind, out var id))
            {
                id = await ResourceKinds[kind](app, this);
                ids[kind] = id;
            }
            return id;
        }

        // The case's path with this tenant's ids, under this tenant or another one (to try ids across tenants).
        public string Fill(EndpointCase endpointCase, long? tenantInPath = null) => endpointCase.Kinds.Aggregate(
            endpointCase.Path.Replace("{t}", (tenantInPath ?? tenant.Id).ToString(), StringComparison.Ordinal),
            (path, kind) => path.Replace(kind, ids[kind].ToString(), StringComparison.Ordinal));
    }

    private async Task AssertEveryEndpointIsForbiddenAsync(List<(Endpoint Endpoint, EndpointCase Case)> endpoints, TenantResources resources,
        (string Who, string Token)[] callers, bool membersMay)
    {
        var before = await SettledSnapshotAsync();
        var problems = new List<string>();
        foreach (var (endpoint, endpointCase) in endpoints)
        {
            foreach (var (who, token) in callers)
            {
                var response = await SendAsync(endpoint, resources.Fill(endpointCase), token, endpointCase);
                if (membersMay && endpointCase.MembersMay)
                {
                    if (response.Status != HttpStatusCode.OK)
                    {
                        problems.Add($"{endpoint.Key} as {who}: expected 200 but got {(int)response.Status}: {response.Body}");
                    }
                    continue;
                }
                Check(problems, endpoint, who, response, HttpStatusCode.Forbidden, "Forbidden");
            }
        }
        problems.AddRange(DatabaseSnapshot.Differences(before, await SettledSnapshotAsync()));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }


    // Fails naming every key, where Assert.Empty would cut each one short.
    private static void AssertNone(IEnumerable<string> keys, string what)
    {
        var found = keys.ToList();
        Assert.True(found.Count == 0, $"{what}: {string.Join(", ", found)}");
    }

    private Task<ApiResponse> SendAsync(Endpoint endpoint, string path, string token, EndpointCase endpointCase) =>
        app.SendAsync(new HttpMethod(endpoint.Method), path, token, endpointCase.Body?.Invoke());

    // Records a problem unless the response is exactly the failure envelope with that status and code.
    private static bool Check(List<string> problems, Endpoint endpoint, string who, ApiResponse response, HttpStatusCode status, string code)
    {
        try
        {
            response.AssertError(status, code);
            return true;
        }
        catch (Exception exception) when (exception is Xunit.Sdk.XunitException or InvalidOperationException or KeyNotFoundException or JsonException)
        {
            problems.Add($"{endpoint.Key} as {who}: expected {(int)status} {code} but got {(int)response.Status}: {response.Body}");
            return false;
        }
    }

    private async Task<Dictionary<string, string>> SettledSnapshotAsync()
    {
        await DatabaseSnapshot.SettledAsync(app);
        return await DatabaseSnapshot.TakeAsync(app);
    }
}
