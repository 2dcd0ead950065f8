using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;

namespace TenantInvitations.Tests;

// The OpenAPI document is the user-facing contract: it must describe the seed endpoint, the envelope and every endpoint of API.md
// well enough for a client generator.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class OpenApiTests(TestApp app) : IClassFixture<TestApp>
{
    private const string ResendPath = "/tenant/{tenantId}/admin/user/invitation/resend";

    // Every error code of the API.md table.
    private static readonly string[] ContractErrorCodes =
    [
        "ValidationError", "Unauthorized", "Forbidden", "EmailMismatch", "NotFound", "InvitationNotPending", "AlreadyInvited",
        "AlreadyMember", "LastOwner", "InvitationExpired", "InvitationSuperseded", "PayloadTooLarge", "RateLimited", "InternalError",
        "ServiceUnavailable",
    ];

    [Fact]
    public async Task Resend_operation_takes_a_required_int64_id_from_the_query_and_tenantId_from_the_path()
    {
        var resend = Operation(await DocumentAsync(), ResendPath, "put");

        Assert.Equal("ResendInvitation", resend.GetProperty("operationId").GetString());
        AssertInt64Parameter(resend, "id", "query");
        AssertInt64Parameter(resend, "tenantId", "path");
    }

    [Theory]
    [InlineData("/api/tenant/{tenantId}/invitations/resend", "put")]
    [InlineData("/tenant/{tenantId}/admin/user/invitation/revoke", "put")]
    [InlineData("/tenant/{tenantId}/admin/user/role", "put")]
    [InlineData("/tenant/{tenantId}/admin/user", "delete")]
    public async Task Other_operations_on_an_id_take_it_the_same_way(string path, string method)
    {
        var operation = Operation(await DocumentAsync(), path, method);

        AssertInt64Parameter(operation, "id", "query");
        AssertInt64Parameter(operation, "tenantId", "path");
    }

    [Fact]
    public async Task Resend_200_is_an_envelope_whose_value_is_an_array_of_UserInvitationModel()
    {
        var document = await DocumentAsync();
        var ok = Operation(document, ResendPath, "put").GetProperty("responses").GetProperty("200");

        var envelope = Resolve(document, JsonSchemaOf(ok));
        var properties = envelope.GetProperty("properties");
        Assert.Equal(["error", "isFailure", "isSuccess", "value"], properties.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        var value = properties.GetProperty("value");
        Assert.Contains("array", Types(value));
        Assert.Equal("#/components/schemas/UserInvitationModel", value.GetProperty("items").GetProperty("$ref").GetString());
    }

    [Theory]
    [InlineData("400")]
    [InlineData("401")]
    [InlineData("403")]
    [InlineData("404")]
    [InlineData("409")]
    [InlineData("429")]
    public async Task Resend_error_status_is_documented_as_the_ErrorEnvelope(string status)
    {
        var responses = Operation(await DocumentAsync(), ResendPath, "put").GetProperty("responses");

        Assert.True(responses.TryGetProperty(status, out var response), $"The resend operation does not document {status}.");
        Assert.Equal("#/components/schemas/ErrorEnvelope", JsonSchemaOf(response).GetProperty("$ref").GetString());
        Assert.False(string.IsNullOrWhiteSpace(response.GetProperty("description").GetString()));
    }

    [Fact]
    public async Task Error_schemas_describe_the_failure_envelope_and_every_error_code()
    {
        var schemas = (await DocumentAsync()).GetProperty("components").GetProperty("schemas");

        var envelope = schemas.GetProperty("ErrorEnvelope").GetProperty("properties");
        Assert.Equal(["error", "isFailure", "isSuccess", "value"], envelope.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("#/components/schemas/ApiError", envelope.GetProperty("error").GetProperty("$ref").GetString());

        var apiError = schemas.GetProperty("ApiError");
        Assert.Equal(["code", "info", "message"], apiError.GetProperty("required").EnumerateArray().Select(r => r.GetString()!).Order(StringComparer.Ordinal));
        var errorProperties = apiError.GetProperty("properties");
        Assert.Equal("#/components/schemas/ErrorCode", errorProperties.GetProperty("code").GetProperty("$ref").GetString());
        Assert.Equal(["string"], Types(errorProperties.GetProperty("message")));
        Assert.Equal(["array"], Types(errorProperties.GetProperty("info")));
        Assert.Equal(["string"], Types(errorProperties.GetProperty("info").GetProperty("items")));

        var codes = schemas.GetProperty("ErrorCode").GetProperty("enum").EnumerateArray().Select(c => c.GetString()!).ToHashSet();
        Assert.Subset(codes, ContractErrorCodes.ToHashSet());
    }

    [Fact]
    public async Task UserInvitationModel_and_DeliveryModel_have_every_field_of_the_contract()
    {
        var schemas = (await DocumentAsync()).GetProperty("components").GetProperty("schemas");

        var invitation = schemas.GetProperty("UserInvitationModel").GetProperty("properties");
        string[] fields =
        [
            "id", "tenantId", "email", "role", "status", "createdAt", "expiresAt", "lastSentAt", "sendCount", "nextResendAt", "invitedBy",
            "acceptedAt", "declinedAt", "revokedAt", "delivery",
        ];
        Assert.Equal(fields.Order(StringComparer.Ordinal), invitation.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("int64", invitation.GetProperty("id").GetProperty("format").GetString());
        Assert.Equal("int64", invitation.GetProperty("tenantId").GetProperty("format").GetString());
        Assert.Equal("date-time", invitation.GetProperty("expiresAt").GetProperty("format").GetString());
        Assert.Equal("#/components/schemas/DeliveryModel", invitation.GetProperty("delivery").GetProperty("$ref").GetString());

        var delivery = schemas.GetProperty("DeliveryModel").GetProperty("properties");
        Assert.Equal(["attempts", "lastAttemptAt", "lastError", "status"], delivery.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("get", "/tenant/{tenantId}/admin/user/invitation")]
    [InlineData("get", "/tenant/{tenantId}/admin/user/invitation/{id}")]
    [InlineData("post", "/tenant/{tenantId}/admin/user/invitation")]
    [InlineData("put", "/tenant/{tenantId}/admin/user/invitation/resend")]
    [InlineData("put", "/api/tenant/{tenantId}/invitations/resend")]
    [InlineData("put", "/tenant/{tenantId}/admin/user/invitation/revoke")]
    [InlineData("get", "/tenant/{tenantId}/admin/user")]
    [InlineData("put", "/tenant/{tenantId}/admin/user/role")]
    [InlineData("delete", "/tenant/{tenantId}/admin/user")]
    [InlineData("get", "/tenant/{tenantId}/admin/user/invitation/{id}/email")]
    [InlineData("get", "/tenant/{tenantId}/admin/user/invitation/{id}/history")]
    [InlineData("get", "/tenant/{tenantId}/admin/audit")]
    [InlineData("get", "/tenant/{tenantId}/admin/settings")]
    [InlineData("put", "/tenant/{tenantId}/admin/settings")]
    [InlineData("post", "/tenant")]
    [InlineData("get", "/tenant/{tenantId}")]
    [InlineData("get", "/me/tenants")]
    [InlineData("get", "/invitation")]
    [InlineData("post", "/invitation/accept")]
    [InlineData("post", "/invitation/decline")]
    [InlineData("get", "/tenant/{tenantId}/admin/events")]
    [InlineData("get", "/events")]
    [InlineData("post", "/tenant/{tenantId}/admin/webhooks")]
    [InlineData("get", "/tenant/{tenantId}/admin/webhooks")]
    [InlineData("get", "/tenant/{tenantId}/admin/webhooks/{id}")]
    [InlineData("put", "/tenant/{tenantId}/admin/webhooks/{id}")]
    [InlineData("delete", "/tenant/{tenantId}/admin/webhooks/{id}")]
    [InlineData("post", "/tenant/{tenantId}/admin/webhooks/{id}/rotate-secret")]
    [InlineData("post", "/tenant/{tenantId}/admin/webhooks/{id}/test")]
    [InlineData("get", "/tenant/{tenantId}/admin/webhooks/{id}/deliveries")]
    [InlineData("post", "/tenant/{tenantId}/admin/webhooks/{id}/deliveries/{deliveryId}/retry")]
    [InlineData("post", "/webhooks")]
    [InlineData("get", "/webhooks")]
    [InlineData("get", "/webhooks/{id}")]
    [InlineData("put", "/webhooks/{id}")]
    [InlineData("delete", "/webhooks/{id}")]
    [InlineData("post", "/webhooks/{id}/rotate-secret")]
    [InlineData("post", "/webhooks/{id}/test")]
    [InlineData("get", "/webhooks/{id}/deliveries")]
    [InlineData("post", "/webhooks/{id}/deliveries/{deliveryId}/retry")]
    public async Task Every_endpoint_of_the_contract_is_documented(string method, string path)
    {
        var operation = Operation(await DocumentAsync(), path, method);

        Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("operationId").GetString()));
        Assert.True(operation.GetProperty("responses").EnumerateObject().Any(r => r.Name.StartsWith('2')), $"{method} {path} documents no success.");
    }

    [Fact]
    public async Task Component_schema_names_are_safe_for_client_generators()
    {
        var names = (await DocumentAsync()).GetProperty("components").GetProperty("schemas").EnumerateObject().Select(s => s.Name).ToList();

        Assert.NotEmpty(names);
        Assert.All(names, name => Assert.Matches("^[A-Za-z0-9._-]+$", name));
    }

    [Fact]
    public async Task Every_operation_but_the_invitee_ones_requires_the_Bearer_scheme_which_is_http_bearer()
    {
        var document = await DocumentAsync();

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        var operations = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(op => (Path: path.Name, Method: op.Name, Operation: op.Value))).ToList();
        Assert.True(operations.Count >= 20, $"Only {operations.Count} operations are documented.");
        foreach (var (path, method, operation) in operations)
        {
            var requirements = operation.TryGetProperty("security", out var security) ? security.EnumerateArray().ToList() : [];
            var requiresBearer = requirements.Count > 0 && requirements.All(r => r.TryGetProperty("Bearer", out _));
            Assert.True(requiresBearer != path.StartsWith("/invitation", StringComparison.Ordinal),
                $"{method} {path}: {(requiresBearer ? "an invitee operation requires a bearer" : "does not require the Bearer scheme")}.");
        }
    }

    [Fact]
    public async Task Docs_page_is_served_in_Development()
    {
        using var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        using var first = await client.GetAsync("/docs");
        var page = first;
        if (first.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.MovedPermanently or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect)
        {
            var target = new Uri(new Uri("http://localhost/docs"), first.Headers.Location!);
            Assert.Equal("/docs/", target.AbsolutePath);
            page = await client.GetAsync(target.PathAndQuery);
        }

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("openapi/v1.json", await page.Content.ReadAsStringAsync());
        if (!ReferenceEquals(page, first))
        {
            page.Dispose();
        }
    }

    [Fact]
    public async Task Servers_name_the_public_base_url_whatever_the_host_header()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/openapi/v1.json");
        request.Headers.Host = "evil.example";
        using var client = app.CreateClient();
        using var response = await client.SendAsync(request);
        var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(["https://invitations.example.test"], document.GetProperty("servers").EnumerateArray().Select(s => s.GetProperty("url").GetString()));
    }

    [Fact]
    public async Task Every_operation_with_a_body_documents_413_PayloadTooLarge_as_the_ErrorEnvelope()
    {
        var document = await DocumentAsync();
        var withBodies = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => (Name: $"{operation.Name} {path.Name}", Operation: operation.Value)))
            .Where(o => o.Operation.TryGetProperty("requestBody", out _)).ToList();

        Assert.Equal(["post /invitation/accept", "post /invitation/decline", "post /tenant", "post /tenant/{tenantId}/admin/user/invitation",
            "post /tenant/{tenantId}/admin/user/invitation/bulk", "post /tenant/{tenantId}/admin/user/invitation/import", "post /tenant/{tenantId}/admin/webhooks", "post /webhooks", "put /tenant/{tenantId}", "put /tenant/{tenantId}/admin/settings", "put /tenant/{tenantId}/admin/user/role",
            "put /tenant/{tenantId}/admin/webhooks/{id}", "put /webhooks/{id}"], withBodies.Select(o => o.Name).Order(StringComparer.Ordinal));
        foreach (var (name, operation) in withBodies)
        {
            var response = operation.GetProperty("responses").GetProperty("413");
            Assert.Equal($"PayloadTooLarge: the body is over {(name.EndsWith("/import", StringComparison.Ordinal) ? 10 : 1)} MB.", response.GetProperty("description").GetString());
            Assert.EndsWith("/ErrorEnvelope", JsonSchemaOf(response).GetProperty("$ref").GetString());
        }
    }

    [Theory]
    [InlineData("/tenant/{tenantId}/admin/webhooks/{id}/deliveries/{deliveryId}/retry", "post")]
    [InlineData("/tenant/{tenantId}/admin/webhooks/{id}", "put")]
    public async Task Webhook_operations_take_their_ids_as_int64_path_parameters(string path, string method)
    {
        var operation = Operation(await DocumentAsync(), path, method);

        AssertInt64Parameter(operation, "tenantId", "path");
        AssertInt64Parameter(operation, "id", "path");
        if (path.Contains("{deliveryId}", StringComparison.Ordinal))
        {
            AssertInt64Parameter(operation, "deliveryId", "path");
        }
    }

    [Fact]
    public async Task Every_event_type_is_described_under_the_top_level_webhooks_with_its_body_and_signature_headers()
    {
        var document = await DocumentAsync();

        Assert.StartsWith("3.1", document.GetProperty("openapi").GetString());
        var webhooks = document.GetProperty("webhooks");
        Assert.Equal(TenantInvitations.Events.EventTypes.All.Select(t => t.Name), webhooks.EnumerateObject().Select(w => w.Name));
        foreach (var webhook in webhooks.EnumerateObject())
        {
            var post = webhook.Value.GetProperty("post");
            Assert.Equal(["webhook-id", "webhook-signature", "webhook-timestamp"],
                post.GetProperty("parameters").EnumerateArray().Where(p => p.GetProperty("in").GetString() == "header")
                    .Select(p => p.GetProperty("name").GetString()).Order(StringComparer.Ordinal));
            var body = Resolve(document, post.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
            var properties = body.GetProperty("properties");
            Assert.Equal(["actor", "data", "id", "occurredAt", "tenantId", "type"], properties.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.Equal([webhook.Name], properties.GetProperty("type").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
            Assert.True(post.GetProperty("responses").TryGetProperty("2XX", out _));
        }
        var accepted = Resolve(document, webhooks.GetProperty("invitation.accepted").GetProperty("post").GetProperty("requestBody")
            .GetProperty("content").GetProperty("application/json").GetProperty("schema")).GetProperty("properties").GetProperty("data");
        var invitationFields = accepted.TryGetProperty("$ref", out _) ? Resolve(document, accepted).GetProperty("properties") : accepted.GetProperty("properties");
        Assert.True(invitationFields.TryGetProperty("sendCount", out _), "invitation.accepted carries a UserInvitationModel.");
    }

    private async Task<JsonElement> DocumentAsync()
    {
        var response = await app.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.Status);
        return response.Json;
    }

    private static JsonElement Operation(JsonElement document, string path, string method)
    {
        Assert.True(document.GetProperty("paths").TryGetProperty(path, out var operations), $"{path} is not documented.");
        Assert.True(operations.TryGetProperty(method, out var operation), $"{method} {path} is not documented.");
        return operation;
    }

    [Fact]
    public async Task Security_statuses_and_constraints_are_declared_where_the_service_enforces_them()
    {
        var document = await DocumentAsync();
        var paths = document.GetProperty("paths");
        static string Security(JsonElement operation) => string.Concat(operation.GetProperty("security").GetRawText().Where(c => !char.IsWhiteSpace(c)));

        // The invitee's token is the credential; accept and decline also read a bearer when one is sent.
        Assert.Equal("[]", Security(Operation(document, "/invitation", "get")));
        Assert.Equal("[{},{\"Bearer\":[]}]", Security(Operation(document, "/invitation/accept", "post")));
        Assert.Equal("[{},{\"Bearer\":[]}]", Security(Operation(document, "/invitation/decline", "post")));
        Assert.Equal("[{\"Bearer\":[]}]", Security(Operation(document, ResendPath, "put")));
        Assert.True(Operation(document, "/tenant/{tenantId}/admin/user/invitation", "post").GetProperty("responses").TryGetProperty("429", out _));
        foreach (var path in paths.EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Value.TryGetProperty("requestBody", out _)))
            {
                Assert.True(operation.Value.GetProperty("responses").TryGetProperty("415", out _), $"{operation.Name} {path.Name} lacks 415");
            }
            foreach (var parameter in path.Value.EnumerateObject().SelectMany(o => o.Value.TryGetProperty("parameters", out var ps) ? ps.EnumerateArray() : []))
            {
                var (name, schema) = (parameter.GetProperty("name").GetString(), parameter.GetProperty("schema"));
                if (name is "id" or "tenantId" or "importId" or "deliveryId")
                {
                    Assert.Equal(1, schema.GetProperty("minimum").GetInt64());
                }
                else if (name == "limit")
                {
                    Assert.Equal((1, 100), (schema.GetProperty("minimum").GetInt32(), schema.GetProperty("maximum").GetInt32()));
                }
                else if (name == "token")
                {
                    Assert.Equal("^[A-Za-z0-9_-]{43}$", schema.GetProperty("pattern").GetString());
                }
            }
            // Every {placeholder} of a path is a declared path parameter of each of its operations.
            foreach (var placeholder in System.Text.RegularExpressions.Regex.Matches(path.Name, "{(\\w+)}").Select(m => m.Groups[1].Value))
            {
                Assert.All(path.Value.EnumerateObject(), o => Assert.Contains(o.Value.GetProperty("parameters").EnumerateArray(),
                    p => p.GetProperty("name").GetString() == placeholder && p.GetProperty("in").GetString() == "path"));
            }
        }
        var tokenBody = Resolve(document, Operation(document, "/invitation/accept", "post").GetProperty("requestBody").GetProperty("content")
            .GetProperty("application/json").GetProperty("schema"));
        Assert.Equal("^[A-Za-z0-9_-]{43}$", tokenBody.GetProperty("properties").GetProperty("token").GetProperty("pattern").GetString());
        Assert.All(document.GetProperty("tags").EnumerateArray(), t => Assert.False(string.IsNullOrWhiteSpace(t.GetProperty("description").GetString())));
    }

    [Fact]
    public async Task Bodies_require_what_the_service_requires_and_envelopes_tell_success_from_failure_by_type()
    {
        var document = await DocumentAsync();
        var schemas = document.GetProperty("components").GetProperty("schemas");
        string[] Required(string name) => schemas.GetProperty(name).TryGetProperty("required", out var r) ? [.. r.EnumerateArray().Select(x => x.GetString()!).Order()] : [];

        Assert.Equal(["email"], Required("CreateInvitationRequest"));
        Assert.Equal(["string"], Types(schemas.GetProperty("CreateInvitationRequest").GetProperty("properties").GetProperty("email")));
        Assert.Empty(Required("TenantSettingsRequest")); // a field left out returns to its default
        Assert.Equal(["name", "ownerEmail"], Required("CreateTenantRequest"));
        Assert.Equal(["name"], Required("RenameTenantRequest"));
        Assert.Equal(["role"], Required("ChangeRoleRequest"));
        Assert.Equal("#/components/schemas/MemberRole", schemas.GetProperty("ChangeRoleRequest").GetProperty("properties").GetProperty("role").GetProperty("$ref").GetString());
        Assert.Equal(["token"], Required("InvitationTokenRequest"));
        Assert.Equal(["url"], Required("CreateWebhookRequest"));
        Assert.Equal(["invitations"], Required("BulkInvitationRequest"));
        Assert.Equal(["email"], Required("BulkInvitationRow"));

        var success = schemas.GetProperty("EnvelopeOfTenantModel");
        Assert.Equal(["error", "isFailure", "isSuccess", "value"], Required("EnvelopeOfTenantModel"));
        Assert.True(Assert.Single(success.GetProperty("properties").GetProperty("isSuccess").GetProperty("enum").EnumerateArray()).GetBoolean());
        Assert.Equal(["null"], Types(success.GetProperty("properties").GetProperty("error")));
        Assert.Equal("#/components/schemas/TenantModel", success.GetProperty("properties").GetProperty("value").GetProperty("$ref").GetString());
        var failure = schemas.GetProperty("ErrorEnvelope");
        Assert.Equal(["error", "isFailure", "isSuccess", "value"], Required("ErrorEnvelope"));
        Assert.False(Assert.Single(failure.GetProperty("properties").GetProperty("isSuccess").GetProperty("enum").EnumerateArray()).GetBoolean());
        Assert.Equal(["null"], Types(failure.GetProperty("properties").GetProperty("value")));

        var create = Operation(document, "/tenant/{tenantId}/admin/user/invitation", "post").GetProperty("responses");
        Assert.True(create.GetProperty("201").GetProperty("headers").GetProperty("Location").GetProperty("required").GetBoolean());
        Assert.True(create.GetProperty("429").GetProperty("headers").GetProperty("Retry-After").GetProperty("required").GetBoolean());
        Assert.True(create.GetProperty("503").GetProperty("headers").GetProperty("Retry-After").GetProperty("required").GetBoolean());
        Assert.True(create.GetProperty("401").GetProperty("headers").GetProperty("WWW-Authenticate").GetProperty("required").GetBoolean());
        Assert.True(Operation(document, "/tenant/{tenantId}/admin/user/invitation", "get").GetProperty("responses").GetProperty("200").GetProperty("headers")
            .TryGetProperty("Link", out _));
    }

    [Fact]
    public async Task Bulk_and_import_declare_their_optional_Idempotency_Key_header_and_nothing_else_does()
    {
        var document = await DocumentAsync();
        var declaring = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(o => (Key: $"{o.Name} {path.Name}", Operation: o.Value)))
            .Where(o => o.Operation.TryGetProperty("parameters", out var ps) && ps.EnumerateArray().Any(p => p.GetProperty("name").GetString() == "Idempotency-Key"))
            .ToList();

        Assert.Equal(["post /tenant/{tenantId}/admin/user/invitation/bulk", "post /tenant/{tenantId}/admin/user/invitation/import"], declaring.Select(o => o.Key).Order());
        foreach (var (_, operation) in declaring)
        {
            var header = operation.GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "Idempotency-Key");
            Assert.Equal("header", header.GetProperty("in").GetString());
            Assert.False(header.TryGetProperty("required", out var required) && required.GetBoolean());
            var schema = header.GetProperty("schema");
            Assert.Equal((1, 255, "^[!-~]+$"), (schema.GetProperty("minLength").GetInt32(), schema.GetProperty("maxLength").GetInt32(), schema.GetProperty("pattern").GetString()));
            Assert.True(operation.GetProperty("responses").TryGetProperty("422", out _));
        }
    }

    private static void AssertInt64Parameter(JsonElement operation, string name, string location)
    {
        var parameter = Assert.Single(operation.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == name);
        Assert.Equal(location, parameter.GetProperty("in").GetString());
        Assert.True(parameter.GetProperty("required").GetBoolean(), $"{name} is not required.");
        var schema = parameter.GetProperty("schema");
        Assert.Equal(["integer"], Types(schema));
        Assert.Equal("int64", schema.GetProperty("format").GetString());
    }

    private static JsonElement JsonSchemaOf(JsonElement response) =>
        response.GetProperty("content").GetProperty("application/json").GetProperty("schema");

    private static JsonElement Resolve(JsonElement document, JsonElement schema)
    {
        var reference = schema.GetProperty("$ref").GetString()!;
        Assert.StartsWith("#/components/schemas/", reference);
        return document.GetProperty("components").GetProperty("schemas").GetProperty(reference["#/components/schemas/".Length..]);
    }

    // A schema's "type" is a string or (in OpenAPI 3.1) an array of strings such as ["null", "array"].
    private static string[] Types(JsonElement schema) => schema.GetProperty("type") is { ValueKind: JsonValueKind.Array } many
        ? [.. many.EnumerateArray().Select(t => t.GetString()!)]
        : [schema.GetProperty("type").GetString()!];
}
