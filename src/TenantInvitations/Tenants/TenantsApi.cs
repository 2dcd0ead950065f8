using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Events;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

namespace TenantInvitations.Tenants;

internal sealed record TenantModel(long Id, string Name, DateTime CreatedAt);

internal sealed record CreateTenantRequest([property: Required] string? Name, [property: Required] string? OwnerEmail) : IRequestBody;

internal sealed record RenameTenantRequest([property: Required] string? Name) : IRequestBody;

internal sealed record MyTenantModel(long TenantId, string TenantName, MemberRole Role, DateTime JoinedAt);

internal static class TenantsApi
{
    public static void MapTenants(this IEndpointRouteBuilder app)
    {
        app.MapPost("/tenant", CreateTenant).WithName("CreateTenant").WithTags("Tenants")
            .RequireAuthorization(AuthSetup.PlatformAdminPolicy).ProducesFailures(400, 401, 403)
            .WithSummary("Creates a tenant (platform admins only)")
            .WithDescription("An Owner invitation to `ownerEmail` is queued, so the first Owner joins through the same flow as everyone else.");
        app.MapGet("/tenant", ListTenants).WithName("ListTenants").WithTags("Tenants")
            .RequireAuthorization(AuthSetup.PlatformAdminPolicy).ProducesFailures(400, 401, 403)
            .WithSummary("Lists every tenant, newest first (platform admins only)")
            .WithDescription("`limit` is 1..100 (default 50). The next page is linked in a `Link: <…>; rel=\"next\"` header; `after` is that opaque cursor.");
        app.MapPut("/tenant/{tenantId}", RenameTenant).WithName("RenameTenant").WithTags("Tenants")
            .RequireTenantRole(managersOnly: true).ProducesFailures(404)
            .WithSummary("Renames a tenant (its Owners and platform admins)")
            .WithDescription("Sets `name`, 1 to 200 characters without control characters; an Admin gets 403. Audited as `tenant.renamed`, and a `tenant.settings_changed` event carries the settings after, since `name` is one of them.");
        app.MapGet("/tenant/{tenantId}", GetTenant).WithName("GetTenant").WithTags("Tenants")
            .RequireTenantRole(managersOnly: false).ProducesFailures(404)
            .WithSummary("Gets a tenant (its members and platform admins)")
            .WithDescription("Any member may read it, Members too; others get 403. `name` is the tenant's name; its display name is a setting.");
        app.MapGet("/me/tenants", MyTenants).WithName("ListMyTenants").WithTags("Tenants")
            .RequireAuthorization().ProducesFailures(401)
            .WithSummary("Lists the caller's memberships")
            .WithDescription("Every tenant the caller belongs to, by the token's `sub`, or by its verified email for a membership made by accepting a link without signing in (which links it to the `sub` from then on). Oldest first, not paged.");
    }

    internal static async Task<Results<Created<Envelope<TenantModel>>, Failure>> CreateTenant(
        CreateTenantRequest request, Caller caller, AppDbContext db, IdGenerator ids, EmailOutbox outbox,
        IOptions<InvitationOptions> options, TimeProvider clock, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        if (NameProblem(request.Name, "name") is { } nameProblem)
        {
            problems.Add(nameProblem);
        }
        if (EmailAddress.Problem(request.OwnerEmail, "ownerEmail") is { } emailProblem)
        {
            problems.Add(emailProblem);
        }
        if (NewInvitation.InviterProblem(caller) is { } inviterProblem)
        {
            problems.Add(inviterProblem);
        }
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var now = clock.UtcNow();
        var tenant = new Tenant { Id = await ids.NextAsync(cancellationToken), Name = request.Name!.Trim(), CreatedAt = now };
        db.Tenants.Add(tenant);
        db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(cancellationToken), caller, "tenant.created", tenant.Id, "tenant", tenant.Id, now));
        EventLog.Add(db, await ids.NextAsync(cancellationToken), EventTypes.TenantCreated, tenant.Id, caller,
            new TenantModel(tenant.Id, tenant.Name, tenant.CreatedAt), now);
        await NewInvitation.AddAsync(db, ids, outbox, tenant, request.OwnerEmail!.Trim(), MemberRole.Owner, options.Value.DefaultValidityDays,
            message: null, tenant.DefaultLocale, caller, options.Value, now, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        outbox.Committed();
        return TypedResults.Created($"/tenant/{tenant.Id}", Envelope.Of(new TenantModel(tenant.Id, tenant.Name, tenant.CreatedAt)));
    }

    internal static async Task<Results<Ok<Envelope<TenantModel[]>>, Failure>> ListTenants(
        string? after, int? limit, HttpContext http, AppDbContext db, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var page = Page.Parse(limit, after, problems);
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var query = db.Tenants.AsNoTracking();
        if (page.After is { } cursor)
        {
            query = query.Where(t => t.CreatedAt <= cursor.At && (t.CreatedAt < cursor.At || t.Id < cursor.Id));
        }
        var rows = await query.OrderByDescending(t => t.CreatedAt).ThenByDescending(t => t.Id).Take(page.Limit + 1)
            .Select(t => new TenantModel(t.Id, t.Name, t.CreatedAt)).ToListAsync(cancellationToken);
        return ApiResults.Ok(page.Finish(http, rows, t => new Cursor(t.CreatedAt, t.Id)));
    }

    internal static async Task<Results<Ok<Envelope<TenantModel>>, Failure>> RenameTenant(long tenantId, RenameTenantRequest request, Caller caller,
        AppDbContext db, IdGenerator ids, IOptions<InvitationOptions> options, TimeProvider clock, CancellationToken cancellationToken)
    {
        // The group admits Admins too; renaming is an Owner's decision, like inviting an Owner.
        if (!caller.CanManageOwners)
        {
            return Failure.Forbidden("Only an Owner of the tenant or a platform admin may rename it.");
        }
        if (NameProblem(request.Name, "name") is { } problem)
        {
            return Failure.Validation([problem]);
        }
        var tenant = await db.Tenants.FirstOrDefaultAsync(t => t.Id == tenantId, cancellationToken);
        if (tenant is null)
        {
            return Failure.NotFound("The tenant");
        }
        var name = request.Name!.Trim();
        if (name != tenant.Name)
        {
            var now = clock.UtcNow();
            db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(cancellationToken), caller, "tenant.renamed", tenantId, "tenant", tenantId, now,
                $"from '{tenant.Name}' to '{name}'"));
            tenant.Name = name;
            EventLog.Add(db, await ids.NextAsync(cancellationToken), EventTypes.TenantSettingsChanged, tenantId, caller,
                SettingsApi.ToModel(tenant, options.Value), now);
            await db.SaveChangesAsync(cancellationToken);
        }
        return ApiResults.Ok(new TenantModel(tenant.Id, tenant.Name, tenant.CreatedAt));
    }

    internal static async Task<Results<Ok<Envelope<TenantModel>>, Failure>> GetTenant(long tenantId, AppDbContext db, CancellationToken cancellationToken)
    {
        var tenant = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId)
            .Select(t => new TenantModel(t.Id, t.Name, t.CreatedAt)).FirstOrDefaultAsync(cancellationToken);
        return tenant is null ? Failure.NotFound("The tenant") : ApiResults.Ok(tenant);
    }

    internal static async Task<Ok<Envelope<MyTenantModel[]>>> MyTenants(Caller caller, AppDbContext db, IdGenerator ids, TimeProvider clock, CancellationToken cancellationToken)
    {
        var email = caller.NormalizedEmail;
        var memberships = await db.Memberships.IgnoreQueryFilters().AsNoTracking()
            .Where(m => (caller.Subject != null && m.User.Subject == caller.Subject) || (m.User.Subject == null && email != null && m.User.NormalizedEmail == email))
            .OrderBy(m => m.JoinedAt)
            .Select(m => new { Model = new MyTenantModel(m.TenantId, m.Tenant.DisplayName ?? m.Tenant.Name, m.Role, m.JoinedAt), ByEmail = m.User.Subject == null })
            .ToArrayAsync(cancellationToken);
        if (memberships.Any(m => m.ByEmail))
        {
            await UserLinks.LinkAsync(db, caller, ids, clock, cancellationToken);
        }
        return ApiResults.Ok(memberships.Select(m => m.Model).ToArray());
    }

    public static string? NameProblem(string? name, string field) => name switch
    {
        null or { Length: 0 } => $"The {field} field is required.",
        _ when string.IsNullOrWhiteSpace(name) => $"The {field} field is required.",
        { Length: > Limits.Name } => $"The {field} field must be at most {Limits.Name} characters.",
        _ when Text.HasControlCharacters(name) => $"The {field} field must not contain line breaks or control characters.",
        _ => null,
    };
}
