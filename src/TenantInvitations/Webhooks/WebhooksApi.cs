using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Events;

namespace TenantInvitations.Webhooks;

// Registering, changing, rotating and deleting webhook endpoints: a tenant's (Owner or Admin) under /tenant/{tenantId}/admin,
// and platform endpoints (platform admins), which receive every tenant's events, under /webhooks. Every change is audited.
internal static class WebhooksApi
{
    public static void MapWebhooks(this IEndpointRouteBuilder app)
    {
        var tenant = app.MapTenantAdminGroup("/tenant/{tenantId}/admin/webhooks").WithTags("Webhooks");
        tenant.MapPost("", (long tenantId, CreateWebhookRequest request, Caller caller, AppDbContext db, WebhookRegistration registration,
                CancellationToken cancellationToken) => CreateAsync(tenantId, request, caller, db, registration, cancellationToken))
            .WithName("CreateTenantWebhook").WithSummary("Registers a webhook endpoint for the tenant's events").WithDescription(CreateDescription);
        tenant.MapGet("", (long tenantId, AppDbContext db, CancellationToken cancellationToken) => ListAsync(tenantId, db, cancellationToken))
            .WithName("ListTenantWebhooks").WithSummary("Lists the tenant's webhook endpoints, oldest first (never their secrets)")
            .WithDescription("The endpoints with their subscribed `types` (null: every type), whether each is enabled, and why one was disabled.");
        tenant.MapGet("/{id}", (long tenantId, long id, AppDbContext db, CancellationToken cancellationToken) => GetAsync(tenantId, id, db, cancellationToken))
            .WithName("GetTenantWebhook").WithSummary("Gets one webhook endpoint (never its secret)")
            .WithDescription("The secret is shown only when it is made (register, rotate-secret); an id of another tenant is 404.");
        tenant.MapPut("/{id}", (long tenantId, long id, UpdateWebhookRequest request, Caller caller, AppDbContext db, WebhookRegistration registration,
                CancellationToken cancellationToken) => UpdateAsync(tenantId, id, request, caller, db, registration, cancellationToken))
            .WithName("UpdateTenantWebhook").WithSummary("Changes a webhook endpoint").WithDescription(UpdateDescription);
        tenant.MapDelete("/{id}", (long tenantId, long id, Caller caller, AppDbContext db, WebhookRegistration registration,
                CancellationToken cancellationToken) => DeleteAsync(tenantId, id, caller, db, registration, cancellationToken))
            .WithName("DeleteTenantWebhook").WithSummary("Deletes a webhook endpoint; its pending deliveries are dropped")
            .WithDescription("Audited as webhook.deleted; the answer is the endpoint as it was.");
        tenant.MapPost("/{id}/rotate-secret", (long tenantId, long id, Caller caller, AppDbContext db, WebhookRegistration registration,
                CancellationToken cancellationToken) => RotateAsync(tenantId, id, caller, db, registration, cancellationToken))
            .WithName("RotateTenantWebhookSecret").WithSummary("Makes a new signing secret").WithDescription(RotateDescription);
        // An unknown tenant is 404 on every one of them; on the platform's, only an unknown id is.
        tenant.ProducesFailures(404);

        var platform = app.MapGroup("/webhooks").WithTags("Webhooks").RequireAuthorization(AuthSetup.PlatformAdminPolicy)
            .RequirePositiveIds().ProducesFailures(400, 401, 403);
        platform.MapPost("", (CreateWebhookRequest request, Caller caller, AppDbContext db, WebhookRegistration registration,
                CancellationToken cancellationToken) => CreateAsync(null, request, caller, db, registration, cancellationToken))
            .WithName("CreatePlatformWebhook").WithSummary("Registers a platform webhook endpoint, which receives every tenant's events")
            .WithDescription(CreateDescription);
        platform.MapGet("", (AppDbContext db, CancellationToken cancellationToken) => ListAsync(null, db, cancellationToken))
            .WithName("ListPlatformWebhooks").WithSummary("Lists the platform webhook endpoints, oldest first (never their secrets)")
            .WithDescription("Platform endpoints get every tenant's events. Each with its subscribed `types` (null: every type), whether it is enabled, and why one was disabled.");
        platform.MapGet("/{id}", (long id, AppDbContext db, CancellationToken cancellationToken) => GetAsync(null, id, db, cancellationToken))
            .WithName("GetPlatformWebhook").ProducesFailures(404).WithSummary("Gets one platform webhook endpoint (never its secret)")
            .WithDescription("The secret is shown only when it is made (register, rotate-secret).");
        platform.MapPut("/{id}", (long id, UpdateWebhookRequest request, Caller caller, AppDbContext db, WebhookRegistration registration,
                CancellationToken cancellationToken) => UpdateAsync(null, id, request, caller, db, registration, cancellationToken))
            .WithName("UpdatePlatformWebhook").ProducesFailures(404).WithSummary("Changes a platform webhook endpoint").WithDescription(UpdateDescription);
        platform.MapDelete("/{id}", (long id, Caller caller, AppDbContext db, WebhookRegistration registration, CancellationToken cancellationToken) =>
                DeleteAsync(null, id, caller, db, registration, cancellationToken))
            .WithName("DeletePlatformWebhook").ProducesFailures(404).WithSummary("Deletes a platform webhook endpoint; its pending deliveries are dropped")
            .WithDescription("Audited as webhook.deleted; the answer is the endpoint as it was.");
        platform.MapPost("/{id}/rotate-secret", (long id, Caller caller, AppDbContext db, WebhookRegistration registration,
                CancellationToken cancellationToken) => RotateAsync(null, id, caller, db, registration, cancellationToken))
            .WithName("RotatePlatformWebhookSecret").ProducesFailures(404).WithSummary("Makes a new signing secret").WithDescription(RotateDescription);
    }

    private const string CreateDescription = "At most 20 endpoints per tenant (and 20 platform endpoints). `url` is an absolute https URL (http too "
        + "when Webhooks:AllowHttp is set; by default only in Development), without user name or password, at most 2000 characters, whose host is "
        + "public: a host that resolves to a loopback, private, link-local, shared (100.64.0.0/10), multicast or unspecified address is 400 "
        + "(Webhooks:AllowPrivateNetworks=true allows loopback, private and shared ones). A host that does not resolve yet is accepted; every "
        + "connection resolves and checks it again, and goes to the address it checked. `types` lists the event types to receive (left out: "
        + "all, including types added later; `webhook.test` is not a valid entry). The answer (201) carries `secret` (`whsec_` + base64 of 32 "
        + "random bytes): store it now, it is never shown again. Deliveries follow Standard Webhooks (docs/events.md).";

    private const string UpdateDescription = "A field left out stays as it is; `description: null` clears the description and `types: null` "
        + "subscribes to every type. `enabled: false` disables the endpoint (its pending deliveries fail); `enabled: true` re-enables it and "
        + "clears `disabledReason`. A changed `url` is checked as when registering.";

    private const string RotateDescription = "Answers `{secret}`, a new one, shown this once. For 24 hours deliveries carry two signatures, "
        + "the new secret's first and the previous secret's second, so receivers can switch without missing a delivery.";

    internal static async Task<Results<Created<Envelope<CreatedWebhookModel>>, Failure>> CreateAsync(long? tenantId, CreateWebhookRequest request,
        Caller caller, AppDbContext db, WebhookRegistration registration, CancellationToken cancellationToken)
    {
        var problems = await registration.UrlProblemsAsync(request.Url, cancellationToken);
        registration.CheckTypes(request.Types, problems);
        WebhookRegistration.CheckDescription(request.Description, problems);
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var (id, auditId) = (await registration.Ids.NextAsync(cancellationToken), await registration.Ids.NextAsync(cancellationToken));
        var secret = WebhookSecrets.New();
        var now = registration.Clock.UtcNow();
        // Under the fan-out's mark (SQLite: the one writer): the count can't be passed by racing registrations, and no fan-out
        // runs meanwhile, so the endpoint gets exactly the events that become visible from now on (the fan-out never went past
        // what was visible).
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await WebhookFanOut.LockMarkAsync(db, skipLocked: false, cancellationToken);
        var fromPosition = await EventsApi.VisibleBelowAsync(db, cancellationToken);
        if (await Scoped(db, tenantId).CountAsync(cancellationToken) >= WebhookEndpoint.MaxPerTenant)
        {
            return Failure.Validation($"There are already {WebhookEndpoint.MaxPerTenant} webhook endpoints here; delete one before registering another.");
        }
        var endpoint = new WebhookEndpoint
        {
            Id = id,
            TenantId = tenantId,
            FromPosition = fromPosition,
            Url = request.Url!,
            Types = WebhookRegistration.Normalize(request.Types),
            Description = request.Description is { Length: > 0 } description ? description : null,
            CreatedAt = now,
            ProtectedSecret = registration.Secrets.Protect(secret),
        };
        db.WebhookEndpoints.Add(endpoint);
        db.AuditEvents.Add(AuditEvent.Record(auditId, caller, "webhook.created", tenantId ?? 0, "webhook", id, now, Host(endpoint.Url)));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        var location = tenantId is null ? $"/webhooks/{id}" : $"/tenant/{tenantId}/admin/webhooks/{id}";
        return TypedResults.Created(location, Envelope.Of(endpoint.WithSecret(secret)));
    }

    internal static async Task<Ok<Envelope<WebhookModel[]>>> ListAsync(long? tenantId, AppDbContext db, CancellationToken cancellationToken)
    {
        var endpoints = await Scoped(db, tenantId).AsNoTracking().OrderBy(e => e.CreatedAt).ThenBy(e => e.Id).ToListAsync(cancellationToken);
        return ApiResults.Ok(endpoints.Select(e => e.ToModel()).ToArray());
    }

    internal static async Task<Results<Ok<Envelope<WebhookModel>>, Failure>> GetAsync(long? tenantId, long id, AppDbContext db,
        CancellationToken cancellationToken) =>
        await Scoped(db, tenantId).AsNoTracking().FirstOrDefaultAsync(e => e.Id == id, cancellationToken) is { } endpoint
            ? ApiResults.Ok(endpoint.ToModel())
            : NotFound();

    internal static async Task<Results<Ok<Envelope<WebhookModel>>, Failure>> UpdateAsync(long? tenantId, long id, UpdateWebhookRequest request,
        Caller caller, AppDbContext db, WebhookRegistration registration, CancellationToken cancellationToken)
    {
        var problems = request.Url is null ? [] : await registration.UrlProblemsAsync(request.Url, cancellationToken);
        if (request.HasTypes && request.Types is not null)
        {
            registration.CheckTypes(request.Types, problems);
        }
        WebhookRegistration.CheckDescription(request.Description, problems);
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var auditId = await registration.Ids.NextAsync(cancellationToken);
        var endpoint = await Scoped(db, tenantId).FirstOrDefaultAsync(e => e.Id == id, cancellationToken);
        if (endpoint is null)
        {
            return NotFound();
        }
        var now = registration.Clock.UtcNow();
        var changed = new List<string>();
        if (request.Url is { } url && url != endpoint.Url)
        {
            endpoint.Url = url;
            changed.Add($"url ({Host(url)})");
        }
        if (request.HasTypes)
        {
            endpoint.Types = WebhookRegistration.Normalize(request.Types);
            changed.Add("types");
        }
        if (request.HasDescription)
        {
            endpoint.Description = request.Description is { Length: > 0 } description ? description : null;
            changed.Add("description");
        }
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (request.Enabled is true && !endpoint.Enabled)
        {
            endpoint.Enable();
            changed.Add("enabled");
        }
        else if (request.Enabled is false && endpoint.Enabled)
        {
            await WebhookEndpoints.DisableAsync(db, endpoint, $"Disabled by {caller.DisplayName}.", now, cancellationToken);
            changed.Add("disabled");
        }
        if (changed.Count == 0)
        {
            return ApiResults.Ok(endpoint.ToModel()); // nothing to change, nothing to audit
        }
        db.AuditEvents.Add(AuditEvent.Record(auditId, caller, "webhook.updated", tenantId ?? 0, "webhook", id, now, string.Join(", ", changed)));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return ApiResults.Ok(endpoint.ToModel());
    }

    internal static async Task<Results<Ok<Envelope<WebhookModel>>, Failure>> DeleteAsync(long? tenantId, long id, Caller caller, AppDbContext db,
        WebhookRegistration registration, CancellationToken cancellationToken)
    {
        var auditId = await registration.Ids.NextAsync(cancellationToken);
        var endpoint = await Scoped(db, tenantId).AsNoTracking().FirstOrDefaultAsync(e => e.Id == id, cancellationToken);
        if (endpoint is null)
        {
            return NotFound();
        }
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.WebhookDeliveries.IgnoreQueryFilters().Where(d => d.EndpointId == id).ExecuteDeleteAsync(cancellationToken);
        if (await Scoped(db, tenantId).Where(e => e.Id == id).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            return NotFound(); // deleted by a racing request a moment ago
        }
        db.AuditEvents.Add(AuditEvent.Record(auditId, caller, "webhook.deleted", tenantId ?? 0, "webhook", id, registration.Clock.UtcNow(),
            Host(endpoint.Url)));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return ApiResults.Ok(endpoint.ToModel());
    }

    internal static async Task<Results<Ok<Envelope<WebhookSecretModel>>, Failure>> RotateAsync(long? tenantId, long id, Caller caller,
        AppDbContext db, WebhookRegistration registration, CancellationToken cancellationToken)
    {
        var auditId = await registration.Ids.NextAsync(cancellationToken);
        var current = await Scoped(db, tenantId).AsNoTracking().Select(e => new { e.Id, e.ProtectedSecret })
            .FirstOrDefaultAsync(e => e.Id == id, cancellationToken);
        if (current is null)
        {
            return NotFound();
        }
        var secret = WebhookSecrets.New();
        var next = registration.Secrets.Protect(secret);
        var now = registration.Clock.UtcNow();
        var previousUntil = now + WebhookEndpoint.PreviousSecretOverlap;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // Guarded by the secret it replaces: of two racing rotations one wins, and nobody is handed a secret that never signs.
        var rotated = await Scoped(db, tenantId).Where(e => e.Id == id && e.ProtectedSecret == current.ProtectedSecret)
            .ExecuteUpdateAsync(s => s.SetProperty(e => e.ProtectedPreviousSecret, e => e.ProtectedSecret)
                .SetProperty(e => e.PreviousSecretExpiresAt, previousUntil).SetProperty(e => e.ProtectedSecret, next), cancellationToken);
        if (rotated == 0)
        {
            return Failure.RateLimited(TimeSpan.FromSeconds(1), "This endpoint was changed a moment ago; try again.");
        }
        db.AuditEvents.Add(AuditEvent.Record(auditId, caller, "webhook.secret_rotated", tenantId ?? 0, "webhook", id, now,
            "the previous secret signs too for 24 hours"));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return ApiResults.Ok(new WebhookSecretModel(secret));
    }

    // A tenant's endpoints (the query filter already limits the context to the route's tenant), or the platform's.
    public static IQueryable<WebhookEndpoint> Scoped(AppDbContext db, long? tenantId) =>
        tenantId is null ? db.WebhookEndpoints.IgnoreQueryFilters().Where(e => e.TenantId == null) : db.WebhookEndpoints;

    public static Failure NotFound() => Failure.NotFound("The webhook endpoint");

    // What the audit trail says of a URL: its host, never a path or query, which may hold a receiver's own key.
    private static string Host(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"host {uri.Host}" : "";
}
