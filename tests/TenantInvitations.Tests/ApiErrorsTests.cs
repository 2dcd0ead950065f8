using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Email;

namespace TenantInvitations.Tests;

// What the framework answers rather than a handler (unknown routes, wrong methods and media types, the unexpected,
// authentication and authorization) is the same envelope as everything else.
public sealed class ApiErrorsTests(TestApp app) : IClassFixture<TestApp>
{
    [Theory]
    [InlineData("/nope")]
    [InlineData("/tenant/1/admin/nope")]
    [InlineData("/api/tenant/1/invitations")]
    public async Task Unknown_route_is_404_NotFound_envelope(string path)
    {
        (await app.GetAsync(path)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.GetAsync(path, app.PlatformAdminToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task Wrong_method_on_a_known_path_is_405_MethodNotAllowed_envelope_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var path = $"/tenant/{tenant.Id}/admin/settings";

        var response = await app.DeleteAsync(path, tenant.OwnerToken);
        response.AssertError(HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");
        Assert.Equal(new[] { "GET", "PUT" }, response.ContentHeaders!.Allow.Order(StringComparer.Ordinal));
        // The method is refused before anyone is asked for credentials.
        (await app.SendAsync(HttpMethod.Patch, "/invitation/accept", body: new { token = "x" })).AssertError(HttpStatusCode.MethodNotAllowed, "MethodNotAllowed");

        Assert.Equal("Acme", (await app.GetAsync(path, tenant.OwnerToken)).AssertSuccess().GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("application/json; charset=utf8")]
    [InlineData("Application/JSON; CHARSET=\"UTF-8\"")]
    [InlineData("application/json; charset=UTF-8")]
    public async Task UTF_8_named_in_any_spelling_is_read_as_JSON(string contentType)
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();

        var response = await app.SendAsync(HttpMethod.Post, $"/tenant/{tenant.Id}/admin/user/invitation", tenant.OwnerToken,
            rawBody: $$"""{"email":"{{email}}","role":"Member"}""", contentType: contentType);

        Assert.Equal(email, response.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("email").GetString());
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task Non_JSON_content_type_on_a_JSON_endpoint_is_415_UnsupportedMediaType_and_creates_nothing(string contentType)
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();

        var response = await app.SendAsync(HttpMethod.Post, $"/tenant/{tenant.Id}/admin/user/invitation", tenant.OwnerToken,
            rawBody: JsonSerializer.Serialize(new { email }), contentType: contentType);

        response.AssertError(HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType");
        Assert.False(await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AnyAsync(i => i.Email == email)));
    }

    [Fact]
    public async Task Unexpected_exception_is_500_InternalError_with_a_trace_id_and_no_detail()
    {
        var tenant = await app.CreateTenantAsync();
        await app.InviteAsync(tenant);
        // The dispatcher reads invitations too; once it has nothing queued, the next such read is this request's.
        await Eventually.ValueAsync(() => app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.Status == OutboxStatus.Queued)),
            queued => queued == 0);
        var path = $"/tenant/{tenant.Id}/admin/user/invitation";
        app.Faults.FailNextCommandContaining("FROM invitations");

        var response = await app.GetAsync(path, tenant.OwnerToken);

        var info = Assert.Single(response.AssertError(HttpStatusCode.InternalServerError, "InternalError").ErrorInfo);
        var traceId = Assert.Single(response.Headers.GetValues("X-Trace-Id"));
        Assert.Matches("^[0-9a-f]{32}$", traceId);
        Assert.Contains(traceId, info);
        Assert.DoesNotContain("do-not-show-this", response.Body);
        Assert.DoesNotContain("Exception", response.Body);
        Assert.DoesNotMatch(new Regex(@"\bat [\w.`<>]+\("), response.Body);
        // The failure was the injected one, and only once: the same request now succeeds.
        Assert.Equal(2, (await app.GetAsync(path, tenant.OwnerToken)).AssertSuccess().GetArrayLength());
    }

    [Fact]
    public async Task Missing_token_on_me_tenants_is_401_from_the_challenge_with_WWW_Authenticate_Bearer()
    {
        var response = await app.GetAsync("/me/tenants");

        Assert.Equal(["Send an 'Authorization: Bearer <token>' header."], response.AssertError(HttpStatusCode.Unauthorized, "Unauthorized").ErrorInfo);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
    }

    [Fact]
    public async Task Creating_a_tenant_without_the_platform_admin_role_is_403_Forbidden_envelope_and_creates_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var name = $"Forbidden {Guid.NewGuid():N}";

        var asOwner = await app.PostAsync("/tenant", new { name, ownerEmail = Scenarios.UniqueEmail() }, tenant.OwnerToken);
        var asStranger = await app.PostAsync("/tenant", new { name, ownerEmail = Scenarios.UniqueEmail() }, TestApp.Token("stranger", Scenarios.UniqueEmail()));

        asOwner.AssertError(HttpStatusCode.Forbidden, "Forbidden");
        asStranger.AssertError(HttpStatusCode.Forbidden, "Forbidden");
        Assert.False(await app.QueryAsync(db => db.Tenants.AnyAsync(t => t.Name == name)));
    }

    [Theory]
    [InlineData("alg none")]
    [InlineData("wrong audience")]
    [InlineData("no sub")]
    [InlineData("Bearer")]
    [InlineData("Basic abc")]
    [InlineData("Bearer a.b.c")]
    public async Task Refused_credentials_on_an_admin_endpoint_are_401_envelopes(string credentials)
    {
        var tenant = await app.CreateTenantAsync();
        // The three tokens carry the platform-admin role and the owner's email: only their flaw keeps them out.
        var authorization = credentials switch
        {
            "alg none" => $"Bearer {BadTokens.Unsigned(tenant.OwnerEmail)}",
            "wrong audience" => $"Bearer {BadTokens.WrongAudience(tenant.OwnerEmail)}",
            "no sub" => $"Bearer {BadTokens.WithoutSubject(tenant.OwnerEmail)}",
            _ => credentials,
        };

        var response = await SendWithAuthorizationAsync(HttpMethod.Get, $"/tenant/{tenant.Id}/admin/user/invitation", authorization);

        response.AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
    }

    // Correctly signed, but with claims that could not be stored (audit rows and users keep sub and email): refused at the door
    // on every provider, rather than a 500 where the database enforces lengths or refuses NUL.
    [Theory]
    [InlineData("long sub")]
    [InlineData("sub with NUL")]
    [InlineData("sub with line break")]
    [InlineData("long email")]
    [InlineData("email with NUL")]
    public async Task Tokens_with_claims_too_long_or_with_control_characters_are_401_and_change_nothing(string flaw)
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var token = flaw switch
        {
            "long sub" => TestApp.Token(new string('s', 256), "root@platform.test", platformAdmin: true),
            "sub with NUL" => TestApp.Token("root\0admin", "root@platform.test", platformAdmin: true),
            "sub with line break" => TestApp.Token("root\nadmin", "root@platform.test", platformAdmin: true),
            "long email" => TestApp.Token("root", new string('e', 250) + "@x.test", platformAdmin: true),
            _ => TestApp.Token("root", "root\0@platform.test", platformAdmin: true),
        };
        var audits = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync());

        var read = await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation", token);
        var resend = await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), token);
        var accept = await app.PostAsync("/invitation/accept", new { token = invitation.Token }, token);

        foreach (var response in new[] { read, resend, accept })
        {
            response.AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        }
        Assert.Equal(audits, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync()));
        Assert.Equal("Pending", (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation/{invitation.Id}", tenant.OwnerToken)).AssertSuccess().GetProperty("status").GetString());
    }

    [Fact]
    public async Task Token_without_sub_lists_no_memberships_and_creates_no_tenant()
    {
        // Someone who joined through the email link without signing in: their user has no subject yet.
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        (await app.PostAsync("/invitation/accept", new { token = invitation.Token })).AssertSuccess();
        var anonymous = $"Bearer {BadTokens.WithoutSubject(email: null)}";
        var name = $"No subject {Guid.NewGuid():N}";

        var memberships = await SendWithAuthorizationAsync(HttpMethod.Get, "/me/tenants", authorization: anonymous);
        var created = await SendWithAuthorizationAsync(HttpMethod.Post, "/tenant", anonymous, new { name, ownerEmail = Scenarios.UniqueEmail() });

        Assert.DoesNotContain($"\"tenantId\":{tenant.Id}", memberships.Body);
        memberships.AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        created.AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        Assert.False(await app.QueryAsync(db => db.Tenants.AnyAsync(t => t.Name == name)));
    }

    private async Task<ApiResponse> SendWithAuthorizationAsync(HttpMethod method, string path, string authorization, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        if (body is not null)
        {
            request.Content = System.Net.Http.Json.JsonContent.Create(body);
        }
        using var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        using var response = await client.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }
}
