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
            var role = await FindRoleAsync(db, caller, http.RequestServices, http.RequestAborted);
            if (!caller.IsPlatformAdmin && (managersOnly ? !Membership.IsManager(role) : role is null))
            {
                return Failure.Forbidden(managersOnly ? "You may not manage invitations in this tenant." : "You are not a member of this tenant.");
            }
            if (role is null && !await db.Tenants.AnyAsync(t => t.Id == db.TenantId, http.RequestAborted))
            {
                return Failure.NotFound("The tenant");
            }
            // Handler arguments are bound before filters run: hand the handler the caller with its role.
            var withRole = caller with { Role = role };
            http.Features.Set(withRole);
            for (var i = 0; i < context.Arguments.Count; i++)
            {
                if (context.Arguments[i] is Caller)
                {
                    context.Arguments[i] = withRole;
                }
            }
            var result = await next(context);
            if (role is null && HttpMethods.IsGet(http.Request.Method) && Succeeded(result)
                && http.GetEndpoint()?.Metadata.GetMetadata<Events.NotAuditedRead>() is null)
            {
                await AuditPlatformReadAsync(http, db, caller, http.RequestAborted);
            }
            return result;
        });
        builder.ProducesFailures(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        return builder;
    }

    private static bool Succeeded(object? result) =>
        ((result as INestedHttpResult)?.Result ?? result) is IStatusCodeHttpResult { StatusCode: < 400 };

    // A platform admin reading inside a tenant they are not a member of is audited like their changes are.
    private static async Task AuditPlatformReadAsync(HttpContext http, AppDbContext db, Caller caller, CancellationToken cancellationToken)
    {
        var ids = http.RequestServices.GetRequiredService<IdGenerator>();
        var now = http.RequestServices.GetRequiredService<TimeProvider>().UtcNow();
        var target = http.GetRouteValue("id") as string ?? (http.Request.Query.TryGetValue("id", out var id) ? id.ToString() : null);
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
