using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Data;
using TenantInvitations.Members;

namespace TenantInvitations.Auth;

internal static class TenantAdmin
{
    // Every tenant-admin endpoint lives in such a group: Owners and Admins of the tenant, and platform admins.
    public static RouteGroupBuilder MapTenantAdminGroup(this IEndpointRouteBuilder app, string prefix) =>
        app.MapGroup(prefix).RequireTenantRole(managersOnly: true);

    // Applies resend rules 1 and 2 in order, for any endpoint under a tenant: ids first (400), then the bearer (401),
    // then the caller's role, read from the database on every request so a removed admin loses access at once (403).
    // A platform admin naming a tenant that does not exist gets 404.
    public static TBuilder RequireTenantRole<TBuilder>(this TBuilder builder, bool managersOnly) where TBuilder : IEndpointConventionBuilder
    {
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var problems = PositiveIds.Problems(http);
            if (problems.Count > 0)
            {
                return Failure.Validation(problems);
            }
            var caller = Caller.From(http);
            if (!caller.IsAuthenticated)
            {
                return TypedResults.Challenge();
            }
            var db = http.RequestServices.GetRequiredService<AppDbContext>();
            object? result;
            if (http.GetEndpoint()?.Metadata.GetMetadata<RoleReadByHandler>() is not null)
            {
                // A hot path reads the role in its own query and applies this rule with Admit, in the same order.
                result = await next(context);
            }
            else
            {
                var (withRole, refused) = await AdmitAsync(http, db, caller, managersOnly, http.RequestAborted);
                if (refused is not null)
                {
                    return refused;
                }
                // Handler arguments are bound before filters run: hand the handler the caller with its role.
                for (var i = 0; i < context.Arguments.Count; i++)
                {
                    if (context.Arguments[i] is Caller)
                    {
                        context.Arguments[i] = withRole;
                    }
                }
                result = await next(context);
            }
            if (Succeeded(result) && http.GetEndpoint()?.Metadata.GetMetadata<Events.NotAuditedRead>() is null)
            {
                await AuditPlatformReadAsync(http, db, http.RequestAborted);
            }
            return result;
        });
        builder.ProducesFailures(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        return builder;
    }

    // Rule 2 for the tenant of the context (the route's tenantId), with the role read from the database: the caller with its
    // role, or the refusal. The group filter applies it to every tenant endpoint, and the console to every tenant page.
    public static async Task<(Caller Caller, Failure? Refusal)> AdmitAsync(HttpContext http, AppDbContext db, Caller caller, bool managersOnly,
        CancellationToken cancellationToken)
    {
        var role = await FindRoleAsync(db, caller, http.RequestServices, cancellationToken);
        var tenantExists = role is not null || await db.Tenants.AnyAsync(t => t.Id == db.TenantId, cancellationToken);
        var withRole = caller with { Role = role };
        if (Refusal(caller, role, tenantExists, managersOnly) is { } refused)
        {
            return (withRole, refused);
        }
        http.Features.Set(withRole);
        return (withRole, null);
    }

    // Rule 2 and the tenant's existence, in that order: a caller who is not Owner or Admin (or, where members may, not a
    // member) of the tenant is 403 unless a platform admin; a platform admin naming a tenant that does not exist gets 404.
    private static Failure? Refusal(Caller caller, MemberRole? role, bool tenantExists, bool managersOnly)
    {
        if (!caller.IsPlatformAdmin && (managersOnly ? !Membership.IsManager(role) : role is null))
        {
            return Failure.Forbidden(managersOnly ? "You may not manage invitations in this tenant." : "You are not a member of this tenant.");
        }
        return role is null && !tenantExists ? Failure.NotFound("The tenant") : null;
    }

    // A hot path's compiled query (get, create and resend in Invitations/) selects the caller's role as two scalar lookups
    // in the tenant's memberships: by sub, and by verified email for a user with no sub yet (someone who joined through a
    // link and never signed in). That is MatchAsync's rule; a compiled query can't call a helper with its parameters, so
    // each writes the two lookups out, and the role tests of those endpoints hold all of them to the same answers.
    //
    // For an endpoint marked RoleReadByHandler: the filter's rule 2 on the role the handler read (tenantExists: its query
    // found the tenant's row). Returns the caller with its role, or the refusal. A match by email links the sign-in first,
    // as the filter does, also when the role is then refused.
    public static async Task<(Caller Caller, Failure? Refusal)> AdmitAsync(HttpContext http, AppDbContext db, Caller caller,
        bool tenantExists, MemberRole? bySubject, MemberRole? byEmail, CancellationToken cancellationToken)
    {
        var role = bySubject ?? byEmail;
        if (bySubject is null && byEmail is not null)
        {
            await UserLinks.LinkAsync(db, caller, http.RequestServices.GetRequiredService<IdGenerator>(), http.RequestServices.GetRequiredService<TimeProvider>(), cancellationToken);
        }
        if (Refusal(caller, role, tenantExists, managersOnly: true) is { } refused)
        {
            return (caller, refused);
        }
        var admitted = caller with { Role = role };
        http.Features.Set(admitted);
        return (admitted, null);
    }

    // A handler's refusals are Failures (with a status); anything else it returns is its answer (a streamed CSV has no status).
    private static bool Succeeded(object? result) =>
        ((result as INestedHttpResult)?.Result ?? result) switch
        {
            IStatusCodeHttpResult { StatusCode: var status } => status is null or < 400,
            IResult => true,
            _ => false,
        };

    // A platform admin reading inside a tenant they are not a member of is audited like their changes are (a GET that succeeded).
    public static async Task AuditPlatformReadAsync(HttpContext http, AppDbContext db, CancellationToken cancellationToken)
    {
        if (Caller.From(http) is not { Role: null, IsPlatformAdmin: true } caller || !HttpMethods.IsGet(http.Request.Method))
        {
            return;
        }
        var ids = http.RequestServices.GetRequiredService<IdGenerator>();
        var now = http.RequestServices.GetRequiredService<TimeProvider>().UtcNow();
        var target = http.GetRouteValue("id") as string ?? http.GetRouteValue("importId") as string
            ?? (http.Request.Query.TryGetValue("id", out var id) ? id.ToString() : null);
        var route = (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
        db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(cancellationToken), caller, "platform_admin.read", db.TenantId,
            "tenant", db.TenantId, now, $"GET {route}{(target is null ? "" : $" id {target}")}"));
        await db.SaveChangesAsync(cancellationToken);
    }

    // The caller's role in the context's tenant: by sub, or by verified email for a user who joined through a link
    // and has not signed in yet (that sign-in is then linked to the user).
    public static async Task<MemberRole?> FindRoleAsync(AppDbContext db, Caller caller, IServiceProvider services, CancellationToken cancellationToken)
    {
        var match = await MatchAsync(db, caller, cancellationToken);
        if (match is { ByEmail: true })
        {
            await UserLinks.LinkAsync(db, caller, services.GetRequiredService<IdGenerator>(), services.GetRequiredService<TimeProvider>(), cancellationToken);
        }
        return match?.Role;
    }

    // The same role, read again inside a transaction (the last-Owner guard): the link, if any, was made by the filter.
    public static async Task<MemberRole?> ReadRoleAsync(AppDbContext db, Caller caller, CancellationToken cancellationToken) =>
        (await MatchAsync(db, caller, cancellationToken))?.Role;

    // By sub, or for someone who joined through a link and never signed in, by verified email (the sub wins). Two index
    // lookups in one query, each plain enough that PostgreSQL's generic plan for it is as good as one planned per execution.
    private static Task<RoleMatch?> MatchAsync(AppDbContext db, Caller caller, CancellationToken cancellationToken)
    {
        var (subject, email) = (caller.Subject, caller.NormalizedEmail);
        var bySubject = db.Memberships.Where(m => m.User.Subject == subject).Select(m => new { m.Role, ByEmail = false });
        var byEmail = db.Memberships.Where(m => m.User.Subject == null && m.User.NormalizedEmail == email).Select(m => new { m.Role, ByEmail = true });
        var matches = (subject, email) switch
        {
            (null, null) => null,
            (_, null) => bySubject,
            (null, _) => byEmail,
            _ => bySubject.Concat(byEmail).OrderBy(m => m.ByEmail),
        };
        return matches is null ? Task.FromResult<RoleMatch?>(null)
            : matches.Select(m => new RoleMatch(m.Role, m.ByEmail)).FirstOrDefaultAsync(cancellationToken)!;
    }

    private sealed record RoleMatch(MemberRole Role, bool ByEmail);
}

// Resend rule 1, for every endpoint: a tenantId, id or other id in the path (deliveryId) that is not a positive integer is a
// validation error.
internal static class PositiveIds
{
    public static List<string> Problems(HttpContext http)
    {
        var problems = new List<string>();
        Check(http.GetRouteValue("tenantId") as string, "tenantId", problems);
        Check(http.GetRouteValue("id") as string ?? (http.Request.Query.TryGetValue("id", out var id) ? id.ToString() : null), "id", problems);
        foreach (var (name, value) in http.Request.RouteValues)
        {
            if (name is not ("tenantId" or "id") && name.EndsWith("Id", StringComparison.Ordinal))
            {
                Check(value as string, name, problems);
            }
        }
        return problems;
    }

    // For endpoints outside a tenant (the platform's), which the tenant-role filter does not cover.
    public static TBuilder RequirePositiveIds<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
            Problems(context.HttpContext) is { Count: > 0 } problems ? Failure.Validation(problems) : await next(context));

    private static void Check(string? value, string name, List<string> problems)
    {
        if (value is not null && !(Ids.TryParse(value, out var parsed) && parsed > 0))
        {
            problems.Add($"The {name} must be a whole number from 1 to {long.MaxValue}.");
        }
    }
}

// Marks a tenant-admin endpoint whose handler reads the caller's role in its own query (the two lookups described above
// AdmitAsync) and applies rule 2 with TenantAdmin.AdmitAsync, saving the filter's round trip on a hot path.
internal sealed class RoleReadByHandler;
