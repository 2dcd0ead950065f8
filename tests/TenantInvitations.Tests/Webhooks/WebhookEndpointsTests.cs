using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

// Registering, reading, changing, rotating and deleting endpoints, per tenant and for the platform; every refusal changes nothing.
public sealed class WebhookEndpointsTests(WebhookTestApp app) : IClassFixture<WebhookTestApp>
{
    private const string Url = "https://hooks.example.test/in";

    [Fact]
    public async Task Registering_answers_201_with_the_model_and_a_whsec_secret_that_no_read_shows_again_and_that_is_stored_encrypted()
    {
        var tenant = await app.CreateTenantAsync();

        var response = await app.PostAsync($"/tenant/{tenant.Id}/admin/webhooks",
            new { url = Url, types = new[] { "member.added", "invitation.accepted", "member.added" }, description = "CRM sync" }, tenant.OwnerToken);

        var created = response.AssertSuccess(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();
        var secret = created.GetProperty("secret").GetString()!;
        app.RememberSecret(secret);
        Assert.Equal($"/tenant/{tenant.Id}/admin/webhooks/{id}", response.Headers.Location?.OriginalString);
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);
        Assert.Equal(["createdAt", "description", "disabledAt", "disabledReason", "enabled", "id", "secret", "types", "url"],
            created.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        var model = created.As<WebhookRow>();
        Assert.Equal((Url, "CRM sync", true, (string?)null, (DateTime?)null), (model.Url, model.Description, model.Enabled, model.DisabledReason, model.DisabledAt));
        Assert.Equal(["member.added", "invitation.accepted"], model.Types ?? []);

        var one = (await app.GetAsync($"/tenant/{tenant.Id}/admin/webhooks/{id}", tenant.OwnerToken)).AssertSuccess();
        var all = (await app.GetAsync($"/tenant/{tenant.Id}/admin/webhooks", tenant.OwnerToken)).AssertSuccess();
        Assert.Equal(Without(created, "secret").GetRawText(), one.GetRawText());
        Assert.Equal(one.GetRawText(), Assert.Single(all.EnumerateArray()).GetRawText());
        var stored = await app.QueryAsync(db => db.WebhookEndpoints.IgnoreQueryFilters().AsNoTracking().SingleAsync(e => e.Id == id));
        Assert.DoesNotContain(secret["whsec_".Length..], JsonSerializer.Serialize(stored));
        Assert.Equal((tenant.Id, (string?)null), (stored.TenantId, stored.ProtectedPreviousSecret));
    }

    [Fact]
    public async Task A_webhook_registered_without_types_receives_every_type_shown_as_null()
    {
        var tenant = await app.CreateTenantAsync();

        var webhook = await app.CreateWebhookAsync(tenant, Url);

        Assert.Equal(JsonValueKind.Null, webhook.Model.GetProperty("types").ValueKind);
        Assert.Equal(JsonValueKind.Null, webhook.Model.GetProperty("description").ValueKind);
    }

    [Theory]
    [InlineData("""{"url":"/relative"}""", "The url field must be an absolute http or https URL.")]
    [InlineData("""{"url":"ftp://hooks.example.test/x"}""", "The url field must be an absolute http or https URL.")]
    [InlineData("""{"url":"https://user:pass@hooks.example.test/x"}""", "The url field must not contain a user name or password.")]
    [InlineData("""{}""", "The url field is required.")]
    [InlineData("""{"url":"https://hooks.example.test/x","types":[]}""", "The types field must list at least one event type")]
    [InlineData("""{"url":"https://hooks.example.test/x","types":["invitation.exploded"]}""", "Each entry of the types field must be one of")]
    [InlineData("""{"url":"https://hooks.example.test/x","types":["webhook.test"]}""", "Each entry of the types field must be one of")]
    [InlineData("""{"url":"https://hooks.example.test/x","types":"member.added"}""", "The request body is not valid JSON")]
    [InlineData("""{"url":"https://hooks.example.test/x","description":"two\nlines"}""", "The description field must be at most 500 characters")]
    [InlineData("""{"url":"https://169.254.169.254/latest/meta-data"}""", "The url field's host 169.254.169.254 is a link-local address")]
    [InlineData("""{"url":"http://0.0.0.0:8080/"}""", "The url field's host 0.0.0.0 is an unspecified address")]
    public async Task A_bad_registration_is_400_naming_the_problem_and_stores_nothing(string body, string problem)
    {
        var tenant = await app.CreateTenantAsync();
        var before = await SnapshotAsync();

        foreach (var path in new[] { $"/tenant/{tenant.Id}/admin/webhooks", "/webhooks" })
        {
            var token = path == "/webhooks" ? app.PlatformAdminToken : tenant.OwnerToken;
            var response = await app.SendAsync(HttpMethod.Post, path, token, rawBody: body);
            Assert.StartsWith(problem, Assert.Single(response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo));
        }

        Assert.Empty(DatabaseSnapshot.Differences(before, await SnapshotAsync()));
    }

    [Fact]
    public async Task A_url_over_2000_characters_is_400()
    {
        var tenant = await app.CreateTenantAsync();
        var url = "https://hooks.example.test/" + new string('a', 2001 - "https://hooks.example.test/".Length);

        var response = await app.PostAsync($"/tenant/{tenant.Id}/admin/webhooks", new { url }, tenant.OwnerToken);

        Assert.Equal(["The url field must be at most 2000 characters."], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
    }

    [Fact]
    public async Task The_twenty_first_endpoint_of_a_tenant_is_400_and_the_platform_has_its_own_twenty()
    {
        var tenant = await app.CreateTenantAsync();
        for (var i = 0; i < 20; i++)
        {
            await app.CreateWebhookAsync(tenant, $"{Url}/{i}");
        }
        var before = await SnapshotAsync();

        var refused = await app.PostAsync($"/tenant/{tenant.Id}/admin/webhooks", new { url = Url }, tenant.OwnerToken);

        var problem = Assert.Single(refused.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Contains("There are already 20 webhook endpoints here", problem);
        Assert.Empty(DatabaseSnapshot.Differences(before, await SnapshotAsync()));
        var other = await app.CreateTenantAsync();
        await app.CreateWebhookAsync(other, Url); // the limit is per tenant
    }

    [Fact]
    public async Task A_change_keeps_what_it_leaves_out_clears_description_with_null_and_types_with_null_means_all()
    {
        var tenant = await app.CreateTenantAsync();
        var webhook = await app.CreateWebhookAsync(tenant, Url, ["member.added"], "first");

        var typesOnly = (await app.PutAsync(webhook.Path, tenant.OwnerToken, new { types = new[] { "member.removed" } })).AssertSuccess();
        Assert.Equal((Url, "first"), (typesOnly.GetProperty("url").GetString(), typesOnly.GetProperty("description").GetString()));
        Assert.Equal(["member.removed"], typesOnly.GetProperty("types").EnumerateArray().Select(t => t.GetString()));

        var cleared = (await app.SendAsync(HttpMethod.Put, webhook.Path, tenant.OwnerToken,
            rawBody: """{"description":null,"types":null,"url":"https://other.example.test/x"}""")).AssertSuccess();
        Assert.Equal(JsonValueKind.Null, cleared.GetProperty("description").ValueKind);
        Assert.Equal(JsonValueKind.Null, cleared.GetProperty("types").ValueKind);
        Assert.Equal("https://other.example.test/x", cleared.GetProperty("url").GetString());

        var disabled = (await app.PutAsync(webhook.Path, tenant.OwnerToken, new { enabled = false })).AssertSuccess();
        Assert.False(disabled.GetProperty("enabled").GetBoolean());
        Assert.Equal($"Disabled by {tenant.OwnerEmail}.", disabled.GetProperty("disabledReason").GetString());
        Assert.Equal(app.Clock.GetUtcNow().UtcDateTime, disabled.GetProperty("disabledAt").GetDateTime(), TimeSpan.FromMilliseconds(1));

        var enabled = (await app.PutAsync(webhook.Path, tenant.OwnerToken, new { enabled = true })).AssertSuccess();
        Assert.True(enabled.GetProperty("enabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, enabled.GetProperty("disabledReason").ValueKind);
        Assert.Equal(JsonValueKind.Null, enabled.GetProperty("disabledAt").ValueKind);
        Assert.Equal(enabled.GetRawText(), (await app.GetAsync(webhook.Path, tenant.OwnerToken)).AssertSuccess().GetRawText());

        var badUrl = await app.PutAsync(webhook.Path, tenant.OwnerToken, new { url = "https://u:p@hooks.example.test/" });
        badUrl.AssertError(HttpStatusCode.BadRequest, "ValidationError");
        Assert.Equal("https://other.example.test/x", (await app.GetAsync(webhook.Path, tenant.OwnerToken)).AssertSuccess().GetProperty("url").GetString());
    }

    [Fact]
    public async Task Rotating_answers_a_new_secret_and_deleting_answers_the_model_then_404_and_each_change_is_audited()
    {
        var tenant = await app.CreateTenantAsync();
        var webhook = await app.CreateWebhookAsync(tenant, Url);

        var rotated = (await app.PostAsync($"{webhook.Path}/rotate-secret", null, tenant.OwnerToken)).AssertSuccess();
        var secret = rotated.GetProperty("secret").GetString()!;
        app.RememberSecret(secret);
        Assert.Equal(["secret"], rotated.EnumerateObject().Select(p => p.Name));
        Assert.StartsWith("whsec_", secret);
        Assert.NotEqual(webhook.Secret, secret);
        (await app.PutAsync(webhook.Path, tenant.OwnerToken, new { description = "renamed" })).AssertSuccess();
        var deleted = (await app.DeleteAsync(webhook.Path, tenant.OwnerToken)).AssertSuccess();

        Assert.Equal(webhook.Id, deleted.GetProperty("id").GetInt64());
        Assert.Equal("renamed", deleted.GetProperty("description").GetString());
        (await app.GetAsync(webhook.Path, tenant.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.DeleteAsync(webhook.Path, tenant.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().AsNoTracking()
            .Where(a => a.TenantId == tenant.Id && a.TargetType == "webhook").OrderBy(a => a.Id).ToListAsync());
        Assert.Equal(["webhook.created", "webhook.secret_rotated", "webhook.updated", "webhook.deleted"], audit.Select(a => a.Action));
        Assert.All(audit, a => Assert.Equal((webhook.Id, $"sub-{tenant.OwnerEmail}"), (a.TargetId, a.ActorSubject)));
        Assert.Equal("host hooks.example.test", audit[0].Details);
    }

    [Fact]
    public async Task Platform_endpoints_are_in_no_tenants_list_and_only_platform_admins_manage_them()
    {
        var tenant = await app.CreateTenantAsync();
        var platform = await app.CreateWebhookAsync(null, Url);

        Assert.Empty((await app.GetAsync($"/tenant/{tenant.Id}/admin/webhooks", tenant.OwnerToken)).AssertSuccess().EnumerateArray());
        Assert.Contains((await app.GetAsync("/webhooks", app.PlatformAdminToken)).AssertSuccess().As<WebhookRow[]>(), w => w.Id == platform.Id);
        (await app.GetAsync($"/tenant/{tenant.Id}/admin/webhooks/{platform.Id}", tenant.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.GetAsync($"/tenant/{tenant.Id}/admin/webhooks/{platform.Id}", app.PlatformAdminToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.GetAsync(platform.Path, tenant.OwnerToken)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        var ofTenant = await app.CreateWebhookAsync(tenant, Url);
        (await app.GetAsync($"/webhooks/{ofTenant.Id}", app.PlatformAdminToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.GetAsync("/webhooks/0", app.PlatformAdminToken)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
        (await app.GetAsync("/webhooks/abc", app.PlatformAdminToken)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().AsNoTracking()
            .SingleAsync(a => a.TargetType == "webhook" && a.TargetId == platform.Id));
        Assert.Equal((0L, "webhook.created", true), (audit.TenantId, audit.Action, audit.ActorIsPlatformAdmin));
    }

    private async Task<Dictionary<string, string>> SnapshotAsync()
    {
        await DatabaseSnapshot.SettledAsync(app);
        return await DatabaseSnapshot.TakeAsync(app);
    }

    private static JsonElement Without(JsonElement value, string property)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(value.GetRawText())!.AsObject();
        node.Remove(property);
        return JsonSerializer.SerializeToElement(node);
    }
}
