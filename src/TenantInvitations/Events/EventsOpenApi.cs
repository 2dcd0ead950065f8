using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace TenantInvitations.Events;

// An event as a webhook receives it (and as the feed holds it), with its `data` typed: for the OpenAPI document only.
internal sealed record EventPayload<T>(long Id, string Type, long? TenantId, DateTime OccurredAt, EventActorModel? Actor, T Data);

// The event catalogue under OpenAPI 3.1's top-level `webhooks`: one POST a receiver gets per event type, with its body and headers.
internal static class EventsOpenApi
{
    private const string Delivery = "Sent as Standard Webhooks 1.0 describes: a POST of the event's JSON to each endpoint subscribed to its type "
        + "(registered under /tenant/{tenantId}/admin/webhooks, or /webhooks for every tenant's events), signed with the endpoint's secret. "
        + "Verify `webhook-signature` before trusting the body, and deduplicate by `webhook-id`: delivery is at least once, and not in order "
        + "(use `id` and `occurredAt`). Answer 2xx within Webhooks:Timeout (15 s); 410 disables the endpoint; anything else is retried "
        + "after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (with jitter, or after a longer Retry-After), then given up. "
        + "docs/events.md has an example of each payload.";

    public static void AddEventWebhooks(this OpenApiOptions options) => options.AddDocumentTransformer(async (document, context, cancellationToken) =>
    {
        document.Webhooks ??= new Dictionary<string, IOpenApiPathItem>();
        foreach (var type in EventTypes.All)
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(EventPayload<>).MakeGenericType(type.Data), null, cancellationToken);
            if (schema.Properties?.TryGetValue("type", out var typeProperty) == true && typeProperty is OpenApiSchema typeSchema)
            {
                typeSchema.Enum = [type.Name];
            }
            // No actor for what the service does by itself (expiry, delivery).
            if (schema.Properties?.TryGetValue("actor", out var actorProperty) == true && actorProperty is OpenApiSchema actorSchema)
            {
                actorSchema.Type |= JsonSchemaType.Null;
            }
            var id = string.Concat(type.Name.Split('.', '_').Select(word => char.ToUpperInvariant(word[0]) + word[1..])) + "Event";
            schema.Description = type.Description;
            document.AddComponent<IOpenApiSchema>(id, schema);
            document.Webhooks[type.Name] = new OpenApiPathItem
            {
                Operations = new Dictionary<HttpMethod, OpenApiOperation>
                {
                    [HttpMethod.Post] = new()
                    {
                        OperationId = $"{id}Webhook",
                        Summary = type.Description,
                        Description = Delivery,
                        Tags = new HashSet<OpenApiTagReference> { new("Webhooks", document) },
                        // The service calls the receiver; what proves it is the signature header, not an HTTP scheme.
                        Security = [],
                        Parameters =
                        [
                            Header("webhook-id", "The event's `id` as a string: the same on every retry of it, to every endpoint."),
                            Header("webhook-timestamp", "Unix seconds of this attempt. Refuse old ones (Standard Webhooks libraries allow 5 minutes)."),
                            Header("webhook-signature", "`v1,` + base64(HMAC-SHA256(secret, \"{webhook-id}.{webhook-timestamp}.{body}\")), where the "
                                + "secret is the base64 after `whsec_`. For 24 hours after a rotation, two such values separated by a space: the new "
                                + "secret's first."),
                        ],
                        RequestBody = new OpenApiRequestBody
                        {
                            Required = true,
                            Content = new Dictionary<string, OpenApiMediaType>
                            {
                                ["application/json"] = new() { Schema = new OpenApiSchemaReference(id, document) },
                            },
                        },
                        Responses = new OpenApiResponses
                        {
                            ["2XX"] = new OpenApiResponse { Description = "Received: the delivery succeeded." },
                            ["410"] = new OpenApiResponse { Description = "Gone: the endpoint is disabled and gets nothing more until enabled again." },
                            ["default"] = new OpenApiResponse { Description = "Anything else (or no answer in time): retried on the schedule." },
                        },
                    },
                },
            };
        }
    });

    private static OpenApiParameter Header(string name, string description) => new()
    {
        Name = name,
        In = ParameterLocation.Header,
        Required = true,
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
    };
}
