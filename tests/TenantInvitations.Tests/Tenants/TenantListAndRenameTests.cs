using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

// GET /tenant (platform admins: every tenant) and PUT /tenant/{tenantId} (Owners and platform admins: rename), added for the console.
public sealed class TenantListAndRenameTests(TestApp app) : IClassFixture<TestApp>
{
    [Fact]
    public async Task Platform_admin_lists_every_tenant_newest_first_in_pages_linked_by_Link()
    {
        var created = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            created.Insert(0, (await app.CreateTenantAsync($"Listed {i}")).Id); // at one instant: ties break by id
        }

        var first = await app.GetAsync("/tenant?limit=2", app.PlatformAdminToken);
        var page = first.AssertSuccess().EnumerateArray().ToArray();
        Assert.Equal(created[..2], Pages.Ids(page));
        Assert.Equal(["createdAt", "id", "name"], page[0].EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal("Listed 2", page[0].GetProperty("name").GetString());
        var next = Pages.Next(first);
        Assert.NotNull(next);
        Assert.StartsWith("/tenant?", next);

        var all = Pages.Ids((await Pages.ReadAllAsync(app, "/tenant?limit=2", app.PlatformAdminToken)).SelectMany(p => p));
        Assert.Equal(created, all[..3]);
        Assert.Equal(all.Length, all.Distinct().Count());
        Assert.Equal(await app.QueryAsync(db => db.Tenants.CountAsync()), all.Length);
    }

    [Theory]
    [InlineData("?limit=0", "The limit must be from 1 to 100.")]
    [InlineData("?limit=101", "The limit must be from 1 to 100.")]
    [InlineData("?after=garbage!", "The after cursor is not valid. Use the one from the previous page's Link header.")]
    public async Task Listing_tenants_with_a_bad_limit_or_cursor_is_400(string query, string problem)
    {
        var response = await app.GetAsync($"/tenant{query}", app.PlatformAdminToken);

        Assert.Equal([problem], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
    }

    [Fact]
    public async Task An_Owner_of_a_tenant_may_not_list_every_tenant()
    {
        var tenant = await app.CreateTenantAsync();

        (await app.GetAsync("/tenant", tenant.OwnerToken)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
    }

    [Fact]
    public async Task Owner_renames_the_tenant_audited_with_a_settings_event()
    {
        var tenant = await app.CreateTenantAsync("Old Name");

        var response = await app.PutAsync($"/tenant/{tenant.Id}", tenant.OwnerToken, new { name = "  New Name  " });

        var value = response.AssertSuccess();
        Assert.Equal(["createdAt", "id", "name"], value.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal((tenant.Id, "New Name"), (value.GetProperty("id").GetInt64(), value.GetProperty("name").GetString()));
        Assert.Equal("New Name", (await app.GetAsync($"/tenant/{tenant.Id}", tenant.OwnerToken)).AssertSuccess().GetProperty("name").GetString());
        Assert.Equal("New Name", (await app.GetAsync("/me/tenants", tenant.OwnerToken)).AssertSuccess()[0].GetProperty("tenantName").GetString());
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().SingleAsync(a => a.TenantId == tenant.Id && a.Action == "tenant.renamed"));
        Assert.Equal((tenant.OwnerEmail, "from 'Old Name' to 'New Name'"), (audit.ActorEmail, audit.Details));
        var changed = await app.QueryAsync(db => db.Events.IgnoreQueryFilters().SingleAsync(e => e.TenantId == tenant.Id && e.Type == "tenant.settings_changed"));
        Assert.Equal("New Name", JsonDocument.Parse(changed.Data).RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Renaming_to_the_same_name_changes_nothing_and_answers_the_tenant()
    {
        var tenant = await app.CreateTenantAsync("Same");

        Assert.Equal("Same", (await app.PutAsync($"/tenant/{tenant.Id}", tenant.OwnerToken, new { name = "Same" })).AssertSuccess().GetProperty("name").GetString());

        Assert.False(await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().AnyAsync(a => a.TenantId == tenant.Id && a.Action == "tenant.renamed")));
        Assert.False(await app.QueryAsync(db => db.Events.IgnoreQueryFilters().AnyAsync(e => e.TenantId == tenant.Id && e.Type == "tenant.settings_changed")));
    }

    [Fact]
    public async Task Platform_admin_renames_any_tenant()
    {
        var tenant = await app.CreateTenantAsync("Before");

        (await app.PutAsync($"/tenant/{tenant.Id}", app.PlatformAdminToken, new { name = "After" })).AssertSuccess();

        Assert.Equal("After", await app.QueryAsync(db => db.Tenants.Where(t => t.Id == tenant.Id).Select(t => t.Name).SingleAsync()));
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().SingleAsync(a => a.TenantId == tenant.Id && a.Action == "tenant.renamed"));
        Assert.True(audit.ActorIsPlatformAdmin);
    }

    [Fact]
    public async Task An_Admin_may_not_rename_and_the_name_stays()
    {
        var tenant = await app.CreateTenantAsync("Kept");
        var admin = await app.AddMemberAsync(tenant, "Admin");

        var response = await app.PutAsync($"/tenant/{tenant.Id}", admin.Token, new { name = "Taken over" });

        Assert.Equal("Only an Owner of the tenant or a platform admin may rename it.",
            response.AssertError(HttpStatusCode.Forbidden, "Forbidden").Json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("Kept", await app.QueryAsync(db => db.Tenants.Where(t => t.Id == tenant.Id).Select(t => t.Name).SingleAsync()));
    }

    [Theory]
    [InlineData("{}", "The name field is required.")]
    [InlineData("{\"name\":\"   \"}", "The name field is required.")]
    [InlineData("{\"name\":\"a\\nb\"}", "The name field must not contain line breaks or control characters.")]
    public async Task A_bad_name_is_400_and_the_name_stays(string body, string problem)
    {
        var tenant = await app.CreateTenantAsync("Unchanged");

        var response = await app.SendAsync(HttpMethod.Put, $"/tenant/{tenant.Id}", tenant.OwnerToken, rawBody: body);

        Assert.Equal([problem], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Equal("Unchanged", await app.QueryAsync(db => db.Tenants.Where(t => t.Id == tenant.Id).Select(t => t.Name).SingleAsync()));
    }

    [Fact]
    public async Task A_name_longer_than_200_characters_is_400()
    {
        var tenant = await app.CreateTenantAsync();

        var response = await app.PutAsync($"/tenant/{tenant.Id}", tenant.OwnerToken, new { name = new string('n', 201) });

        Assert.Equal(["The name field must be at most 200 characters."], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
    }
}
