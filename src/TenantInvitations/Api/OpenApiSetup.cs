using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using TenantInvitations.Events;

namespace TenantInvitations.Api;

internal static class OpenApiSetup
{
    private static readonly Dictionary<string, string> ErrorDescriptions = new()
    {
        ["400"] = "ValidationError: a parameter or body field is missing, malformed or out of range; `info` lists each problem.",
        ["401"] = "Unauthorized: the bearer token is missing, invalid or expired.",
        ["403"] = "Forbidden: the caller may not do this in this tenant (EmailMismatch on accept: the invitation is for another email).",
        ["404"] = "NotFound: no such invitation, member or tenant inside the tenant in the path (another tenant's id is NotFound too).",
        ["409"] = "InvitationNotPending (`info` names the status), AlreadyInvited (`info` gives the pending id), AlreadyMember or LastOwner; IdempotencyKeyInUse while a request with the same `Idempotency-Key` still runs (with `Retry-After`).",
        ["410"] = "InvitationExpired or InvitationSuperseded: the token is real, but it expired or a later resend replaced it.",
        ["413"] = "PayloadTooLarge: the body is over 1 MB.",
        ["415"] = "UnsupportedMediaType: the body's content type is not one this operation reads.",
        ["422"] = "IdempotencyKeyReused: this `Idempotency-Key` was used within 24 hours with a different body.",
        ["429"] = "RateLimited: a cooldown or quota was hit; the `Retry-After` header gives the seconds to wait.",
        ["503"] = "ServiceUnavailable: the database can't be reached; try again after `Retry-After` seconds. Nothing was changed.",
    };

    public static void AddInvitationOpenApi(this IServiceCollection services) => services.AddOpenApi(options =>
    {
        // Component names must match ^[a-zA-Z0-9.\-_]+$ for client generators: EnvelopeOfUserInvitationModel[] becomes ...ModelList.
        options.CreateSchemaReferenceId = type =>
            OpenApiOptions.CreateDefaultSchemaReferenceId(type)?.Replace("[]", "List", StringComparison.Ordinal);
        options.AddDocumentTransformer((document, context, _) =>
        {
            // The server is the configured public address, never the request's Host header.
            var publicBaseUrl = context.ApplicationServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<AppOptions>>().Value.PublicBaseUrl;
            document.Servers = [new OpenApiServer { Url = publicBaseUrl!.TrimEnd('/') }];
            document.Info = new OpenApiInfo
            {
                Title = "TenantInvitations",
                Version = "v1",
                Description = "Invite people into tenants by email. Every response, success or failure, is the envelope "
                    + "`{isSuccess, isFailure, error, value}`; errors carry `error.code`, `error.message` and `error.info`. "
                    + "Every response carries an `X-Trace-Id` header: the trace of an incoming W3C `traceparent`, or a new one; audit events "
                    + "and events store the same id. Every endpoint may also answer 500 InternalError (quote its `X-Trace-Id`) and 503 ServiceUnavailable (with `Retry-After`). "
                    + "A request to a host name not in the service's AllowedHosts is 400 ValidationError, and TRACE is 405 MethodNotAllowed.",
            };
            document.Tags = new HashSet<OpenApiTag>
            {
                new() { Name = "Tenants", Description = "Tenants: create (platform admins), read, rename, and the caller's memberships." },
                new() { Name = "Invitations", Description = "Invite by email, list, get, resend (the seed endpoint), revoke, preview the email, follow an invitation's history; bulk." },
                new() { Name = "Imports", Description = "CSV imports of invitations: start, follow, cancel, download the per-line results." },
                new() { Name = "Invitee", Description = "What the person holding an invitation's token may do: see it, accept it, decline it. The token is the credential." },
                new() { Name = "Members", Description = "A tenant's members: list, change a role, remove; never the last Owner." },
                new() { Name = "Audit", Description = "The tenant's append-only audit trail." },
                new() { Name = "Settings", Description = "A tenant's display name, reply-to, locale, validity, allowed email domains and hourly email quota." },
                new() { Name = "Events", Description = "The events feed: every change, in order of commit, cursor-paged." },
                new() { Name = "Webhooks", Description = "Webhook endpoints (tenant and platform), their deliveries, and the events they are sent (Standard Webhooks signatures)." },
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["Bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A JWT from your OIDC provider, or one minted by the `token` command when Auth:SigningKey is used.",
            };
            return Task.CompletedTask;
        });
        // A nullable reference becomes `oneOf: [null, $ref]` only once schemas are made components, so after that: a field a
        // request requires, and a success's value, are never null.
        options.AddDocumentTransformer((document, _, _) =>
        {
            foreach (var (name, component) in document.Components?.Schemas ?? new Dictionary<string, IOpenApiSchema>())
            {
                if (component is not OpenApiSchema { Properties: { } properties, Required: { } required })
                {
                    continue;
                }
                IEnumerable<string> notNull = name.StartsWith("EnvelopeOf", StringComparison.Ordinal) ? ["value"]
                    : RequestBodyNames.Contains(name) ? required : [];
                foreach (var field in notNull.Where(properties.ContainsKey).ToList())
                {
                    switch (properties[field])
                    {
                        case OpenApiSchema { Type: { } types } typed:
                            typed.Type = types & ~JsonSchemaType.Null;
                            break;
                        case OpenApiSchema { OneOf: { Count: 2 } choices } when NotNull(choices) is { } other:
                            properties[field] = other;
                            break;
                    }
                }
            }
            return Task.CompletedTask;
        });
        options.AddEventWebhooks();
        // Enums are written and read as their names (see StrictEnumConverterFactory); say so in the schema.
        options.AddSchemaTransformer((schema, context, _) =>
        {
            var type = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
            if (type.IsEnum)
            {
                schema.Type = JsonSchemaType.String;
                schema.Enum = [.. Enum.GetNames(type).Select(name => (System.Text.Json.Nodes.JsonNode)name)];
            }
            if (type == typeof(Invitations.InvitationTokenRequest) && schema.Properties?.TryGetValue("token", out var token) == true && token is OpenApiSchema tokenSchema)
            {
                tokenSchema.Pattern = InvitationTokenPattern;
            }
            if (type.IsAssignableTo(typeof(IRequestBody)))
            {
                RequireWhatTheServiceRequires(schema, type);
            }
            else if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Envelope<>))
            {
                DescribeEnvelope(schema, success: true);
            }
            else if (type == typeof(ErrorEnvelope))
            {
                DescribeEnvelope(schema, success: false);
            }
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            var bearer = new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("Bearer", context.Document)] = [] };
            // Declared on every operation: a bearer; none (the token in the body is the credential); or either, where a bearer
            // changes who acts (accept, decline).
            operation.Security = !metadata.OfType<IAllowAnonymous>().Any() ? [bearer]
                : metadata.OfType<OptionalBearer>().Any() ? [new OpenApiSecurityRequirement(), bearer]
                : [];
            // Every body is read under the same 1 MB limit.
            if (operation.RequestBody is not null && operation.Responses is { } responses && !responses.ContainsKey("413")
                && responses.TryGetValue("400", out var badRequest) && badRequest is OpenApiResponse { Content: { } content })
            {
                responses["413"] = new OpenApiResponse { Content = content };
            }
            // A body of another content type is 415 on every operation that reads one.
            if (operation.RequestBody is not null && operation.Responses is { } withBody && !withBody.ContainsKey("415")
                && withBody.TryGetValue("400", out var refused) && refused is OpenApiResponse { Content: { } refusedContent })
            {
                withBody["415"] = new OpenApiResponse { Content = refusedContent };
            }
            // What the service enforces on ids and page sizes, said where generators and validators read it.
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
            {
                if (parameter.Schema is not OpenApiSchema schema)
                {
                    continue;
                }
                if (parameter.Name is "id" or "tenantId" or "importId" or "deliveryId")
                {
                    schema.Minimum = "1";
                }
                else if (parameter.Name == "limit")
                {
                    (schema.Minimum, schema.Maximum) = ("1", Limits.MaxPageSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
                else if (parameter.Name == "token")
                {
                    schema.Pattern = InvitationTokenPattern;
                }
            }
            // Bulk and import read an Idempotency-Key; a repeated request answers as the first did, marked Idempotent-Replayed.
            if (metadata.OfType<IdempotencyKeys.Accepted>().Any())
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = IdempotencyKeys.Header,
                    In = ParameterLocation.Header,
                    Description = "Makes a retry safe: the same key with the same body within 24 hours answers as the first request did "
                        + "(marked `Idempotent-Replayed: true`) and changes nothing; with another body it is 422 IdempotencyKeyReused, "
                        + "and while the first is still running 409 IdempotencyKeyInUse. Scoped to the tenant and the endpoint.",
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String, MinLength = 1, MaxLength = IdempotencyKeys.MaxLength, Pattern = "^[!-~]+$",
                    },
                });
            }
            // Any endpoint may find the database unavailable: 503 with Retry-After, the same envelope as its other failures.
            if (operation.Responses is { } all && !all.ContainsKey("503")
                && all.Values.OfType<OpenApiResponse>().FirstOrDefault(r => r.Content?.TryGetValue("application/json", out var failure) == true
                    && failure.Schema is OpenApiSchemaReference { Reference.Id: nameof(ErrorEnvelope) }) is { Content: { } failureContent })
            {
                all["503"] = new OpenApiResponse { Content = failureContent };
            }
            var paged = operation.Parameters?.Any(p => p.Name == "after") == true;
            foreach (var (status, response) in operation.Responses ?? [])
            {
                if (response is not OpenApiResponse concrete)
                {
                    continue;
                }
                if (ErrorDescriptions.TryGetValue(status, out var description))
                {
                    concrete.Description = description;
                }
                // The headers these answers carry, for clients and validating proxies.
                var header = status switch
                {
                    "429" or "503" => ("Retry-After", "Seconds to wait before trying again.", JsonSchemaType.Integer, true),
                    "201" => ("Location", "The path of what was created.", JsonSchemaType.String, true),
                    "202" => ("Location", "The path to follow what was started.", JsonSchemaType.String, false),
                    "401" => ("WWW-Authenticate", "`Bearer`, or `Bearer error=\"invalid_token\"` when a token was sent.", JsonSchemaType.String, true),
                    "200" when paged => ("Link", "`<path and query of the next page>; rel=\"next\"` when there is one; relative to the service.", JsonSchemaType.String, false),
                    _ => default,
                };
                if (header.Item1 is { } name)
                {
                    concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
                    concrete.Headers[name] = new OpenApiHeader
                    {
                        Description = header.Item2,
                        Required = header.Item4,
                        Schema = new OpenApiSchema { Type = header.Item3, Minimum = header.Item3 == JsonSchemaType.Integer ? "1" : null },
                    };
                }
            }
            // An operation with a larger limit of its own (an import's file) says so.
            if (metadata.OfType<Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata>().LastOrDefault()?.MaxRequestBodySize is { } limit
                && operation.Responses?.TryGetValue("413", out var tooLarge) == true && tooLarge is OpenApiResponse sized)
            {
                sized.Description = $"PayloadTooLarge: the body is over {limit / 1024 / 1024} MB.";
            }
            return Task.CompletedTask;
        });
    });

    // A request body requires the fields marked [Required] (what the service refuses without), and those are not nullable;
    // every other field may be left out (and null means the same).
    private static void RequireWhatTheServiceRequires(OpenApiSchema schema, Type type)
    {
        var required = type.GetProperties().Where(p => p.GetCustomAttributes(typeof(System.ComponentModel.DataAnnotations.RequiredAttribute), true).Length > 0)
            .Select(p => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(p.Name)).ToHashSet();
        schema.Required = required;
    }

    // Success and failure are told apart by type: a success has isSuccess true and a value, a failure isSuccess false, an error
    // and no value; every field is always there.
    private static void DescribeEnvelope(OpenApiSchema schema, bool success)
    {
        schema.Required = new HashSet<string> { "isSuccess", "isFailure", "error", "value" };
        if (schema.Properties is not { } properties)
        {
            return;
        }
        // A one-value enum: Microsoft.OpenApi 2.13 writes `const` only as a string, which a boolean never equals.
        properties["isSuccess"] = new OpenApiSchema { Type = JsonSchemaType.Boolean, Enum = [System.Text.Json.Nodes.JsonValue.Create(success)] };
        properties["isFailure"] = new OpenApiSchema { Type = JsonSchemaType.Boolean, Enum = [System.Text.Json.Nodes.JsonValue.Create(!success)] };
        if (success)
        {
            properties["error"] = new OpenApiSchema { Type = JsonSchemaType.Null };
        }
        else
        {
            properties["value"] = new OpenApiSchema { Type = JsonSchemaType.Null };
        }
    }

    private static readonly HashSet<string> RequestBodyNames =
        [.. typeof(IRequestBody).Assembly.GetTypes().Where(t => t.IsAssignableTo(typeof(IRequestBody)) && !t.IsInterface).Select(t => t.Name)];

    // Of a nullable field's two choices (null, or its type), its type.
    private static IOpenApiSchema? NotNull(IList<IOpenApiSchema> choices) =>
        choices.Count(c => c is OpenApiSchema { Type: JsonSchemaType.Null }) == 1 ? choices.Single(c => c is not OpenApiSchema { Type: JsonSchemaType.Null }) : null;

    // An invitation token: 256 random bits in base64url, 43 characters.
    public const string InvitationTokenPattern = "^[A-Za-z0-9_-]{43}$";

    // An anonymous endpoint that also reads a bearer token when one is sent.
    public sealed class OptionalBearer;

    public static TBuilder ProducesFailures<TBuilder>(this TBuilder builder, params int[] statusCodes) where TBuilder : IEndpointConventionBuilder
    {
        foreach (var statusCode in statusCodes)
        {
            builder.WithMetadata(new ProducesResponseTypeMetadata(statusCode, typeof(ErrorEnvelope), ["application/json"]));
        }
        return builder;
    }
}
