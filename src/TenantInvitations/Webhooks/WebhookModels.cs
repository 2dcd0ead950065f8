using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using TenantInvitations.Api;

namespace TenantInvitations.Webhooks;

// An endpoint as the API shows it: never its secret. `types` null means every event type.
internal sealed record WebhookModel(
    long Id, string Url, string[]? Types, string? Description, bool Enabled, string? DisabledReason, DateTime? DisabledAt, DateTime CreatedAt);

// Registering answers the endpoint and its secret, the one time (with rotate-secret's) the secret is shown.
internal sealed record CreatedWebhookModel(
    long Id, string Url, string[]? Types, string? Description, bool Enabled, string? DisabledReason, DateTime? DisabledAt, DateTime CreatedAt,
    string Secret);

internal sealed record WebhookSecretModel(string Secret);

// One event's delivery to one endpoint. `nextAttemptAt` is null once it succeeded or failed; `responseBody` is the first 1 KiB.
internal sealed record WebhookDeliveryModel(
    long Id, long EventId, string EventType, WebhookDeliveryStatus Status, int Attempts, DateTime? LastAttemptAt, DateTime? NextAttemptAt,
    int? ResponseStatus, string? Error, int? DurationMs, string? ResponseBody, string? TraceId, DateTime CreatedAt);

internal sealed record CreateWebhookRequest([property: Required] string? Url, string[]? Types = null, string? Description = null) : IRequestBody;

// A field left out stays as it is; `description: null` clears the description and `types: null` subscribes to every type.
internal sealed class UpdateWebhookRequest : IRequestBody
{
    private string[]? types;
    private string? description;

    public string? Url { get; init; }
    public bool? Enabled { get; init; }

    public string[]? Types
    {
        get => types;
        init => (types, HasTypes) = (value, true);
    }

    public string? Description
    {
        get => description;
        init => (description, HasDescription) = (value, true);
    }

    [JsonIgnore] public bool HasTypes { get; private init; }
    [JsonIgnore] public bool HasDescription { get; private init; }
}

internal static class WebhookMapping
{
    public static WebhookModel ToModel(this WebhookEndpoint e) =>
        new(e.Id, e.Url, e.Types?.ToArray(), e.Description, e.Enabled, e.DisabledReason, e.DisabledAt, e.CreatedAt);

    public static CreatedWebhookModel WithSecret(this WebhookEndpoint e, string secret) =>
        new(e.Id, e.Url, e.Types?.ToArray(), e.Description, e.Enabled, e.DisabledReason, e.DisabledAt, e.CreatedAt, secret);

    public static WebhookDeliveryModel ToModel(this WebhookDelivery d) => new(
        d.Id, d.EventId, d.EventType, d.Status, d.Attempts, d.LastAttemptAt, d.IsFinished ? null : d.NextAttemptAt,
        d.ResponseStatus, d.Error, d.DurationMs, d.ResponseBody, d.TraceId, d.CreatedAt);
}
