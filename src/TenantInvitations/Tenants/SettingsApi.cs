using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Events;
using TenantInvitations.Invitations;

namespace TenantInvitations.Tenants;

internal sealed record TenantSettingsModel(
    string Name, string? DisplayName, string? ReplyTo, string DefaultLocale, int InvitationValidityDays, string[] AllowedEmailDomains,
    int EmailsPerHour);

// Every field may be left out: it then returns to its default.
internal sealed record TenantSettingsRequest(
    string? DisplayName = null, string? ReplyTo = null, string? DefaultLocale = null, int? InvitationValidityDays = null,
    string[]? AllowedEmailDomains = null, int? EmailsPerHour = null) : IRequestBody;

internal static partial class SettingsApi
{
    private const int MaxEmailsPerHour = 1_000_000;

    public static void MapTenantSettings(this IEndpointRouteBuilder app)
    {
        var settings = app.MapTenantAdminGroup("/tenant/{tenantId}/admin/settings").WithTags("Settings");
        settings.MapGet("", GetSettings).WithName("GetTenantSettings").ProducesFailures(404)
            .WithSummary("Gets the tenant's settings")
            .WithDescription("The values in force: a setting the tenant has not set shows the service's default (validity and email quota).");
        settings.MapPut("", PutSettings).WithName("PutTenantSettings").ProducesFailures(404, 403)
            .WithSummary("Replaces the tenant's settings")
            .WithDescription("A full replacement: a field left out returns to its default (no display name or reply-to, locale `en`, the service's default validity and email quota, no domain restriction). With `allowedEmailDomains` set, invitations to other domains are refused with 400. `emailsPerHour` caps the tenant's invitation emails in any hour; past it, create and resend answer 429 RateLimited with `Retry-After`. Owners and Admins may lower it or keep it; raising it above the service's default (`Invitations:EmailsPerHour`) takes a platform admin (403 otherwise). A quota change is recorded in the audit event's details.");
    }

    internal static async Task<Results<Ok<Envelope<TenantSettingsModel>>, Failure>> GetSettings(
        long tenantId, AppDbContext db, IOptions<InvitationOptions> options, CancellationToken cancellationToken)
    {
        var tenant = await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Id == tenantId, cancellationToken);
        return tenant is null ? Failure.NotFound("The tenant") : ApiResults.Ok(ToModel(tenant, options.Value));
    }

    internal static async Task<Results<Ok<Envelope<TenantSettingsModel>>, Failure>> PutSettings(
        long tenantId, TenantSettingsRequest request, Caller caller, AppDbContext db, IdGenerator ids,
        IOptions<InvitationOptions> options, TimeProvider clock, CancellationToken cancellationToken)
    {
        var problems = Validate(request);
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var tenant = await db.Tenants.FirstOrDefaultAsync(t => t.Id == tenantId, cancellationToken);
        if (tenant is null)
        {
            return Failure.NotFound("The tenant");
        }
        // The quota guards inboxes against the tenant's own admins too: they may lower it or keep it, but only a platform
        // admin may raise it above the service's default.
        var ceiling = Math.Max(options.Value.EmailsPerHour, tenant.EmailsPerHour ?? 0);
        if (request.EmailsPerHour > ceiling && !caller.IsPlatformAdmin)
        {
            return Failure.Forbidden($"Only a platform admin may raise emailsPerHour above {ceiling}.");
        }
        var quotaChange = tenant.EmailsPerHour == request.EmailsPerHour ? null
            : $"emailsPerHour {tenant.EmailsPerHour?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"} to {request.EmailsPerHour?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "default"}";
        tenant.DisplayName = request.DisplayName is { Length: > 0 } name ? name.Trim() : null;
        tenant.ReplyTo = request.ReplyTo is { Length: > 0 } replyTo ? replyTo.Trim() : null;
        tenant.DefaultLocale = request.DefaultLocale ?? "en";
        tenant.InvitationValidityDays = request.InvitationValidityDays;
        tenant.EmailsPerHour = request.EmailsPerHour;
        tenant.AllowedEmailDomains = [.. (request.AllowedEmailDomains ?? []).Select(d => d.Trim().ToLowerInvariant()).Distinct()];
        var now = clock.UtcNow();
        db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(cancellationToken), caller, "settings.updated", tenantId, "tenant", tenantId, now,
            quotaChange));
        var settings = ToModel(tenant, options.Value);
        EventLog.Add(db, await ids.NextAsync(cancellationToken), EventTypes.TenantSettingsChanged, tenantId, caller, settings, now);
        await db.SaveChangesAsync(cancellationToken);
        return ApiResults.Ok(settings);
    }

    private static List<string> Validate(TenantSettingsRequest request)
    {
        var problems = new List<string>();
        if (request.DisplayName is { Length: > 0 } && TenantsApi.NameProblem(request.DisplayName, "displayName") is { } nameProblem)
        {
            problems.Add(nameProblem);
        }
        if (request.ReplyTo is { Length: > 0 } && EmailAddress.Problem(request.ReplyTo, "replyTo") is { } replyProblem)
        {
            problems.Add(replyProblem);
        }
        if (request.DefaultLocale is { } locale && !Text.IsLocale(locale))
        {
            problems.Add("The defaultLocale field must be a language tag such as en, de or pt-BR.");
        }
        if (request.InvitationValidityDays is < 1 or > Limits.MaxValidityDays)
        {
            problems.Add($"The invitationValidityDays field must be from 1 to {Limits.MaxValidityDays}.");
        }
        if (request.EmailsPerHour is < 1 or > MaxEmailsPerHour)
        {
            problems.Add($"The emailsPerHour field must be from 1 to {MaxEmailsPerHour}.");
        }
        if (request.AllowedEmailDomains is { } domains)
        {
            if (domains.Length > Limits.AllowedDomains)
            {
                problems.Add($"The allowedEmailDomains field may list at most {Limits.AllowedDomains} domains.");
            }
            else if (domains.Any(d => d is null || d.Length > 253 || !DomainName().IsMatch(d.Trim())))
            {
                problems.Add("Each entry of allowedEmailDomains must be a domain name such as example.com.");
            }
        }
        return problems;
    }

    public static TenantSettingsModel ToModel(Tenant tenant, InvitationOptions options) => new(
        tenant.Name, tenant.DisplayName, tenant.ReplyTo, tenant.DefaultLocale,
        tenant.InvitationValidityDays ?? options.DefaultValidityDays, [.. tenant.AllowedEmailDomains],
        tenant.EmailsPerHour ?? options.EmailsPerHour);

    [GeneratedRegex(@"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")]
    private static partial Regex DomainName();
}
