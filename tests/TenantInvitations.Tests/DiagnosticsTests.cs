using System.Net;
using TenantInvitations.Data;

namespace TenantInvitations.Tests;

public sealed class EmptyEndpointApp : TestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings() => [new("Diagnostics:EmptyEndpoint", "true")];
}

// The benchmarks' HTTP ceiling (docs/benchmarks.md): an endpoint that does nothing behind the whole pipeline, off by default.
public sealed class EmptyEndpointTests(EmptyEndpointApp app) : IClassFixture<EmptyEndpointApp>
{
    [Fact]
    public async Task When_switched_on_it_answers_the_empty_success_envelope_to_a_valid_bearer_only()
    {
        var answered = await app.GetAsync("/diagnostics/empty", TestApp.Token("someone", "someone@example.com"));

        Assert.Equal(HttpStatusCode.OK, answered.Status);
        Assert.Equal("""{"isSuccess":true,"isFailure":false,"error":null,"value":null}""", answered.Body);
        Assert.Equal("nosniff", answered.Headers.GetValues("X-Content-Type-Options").Single());
        (await app.GetAsync("/diagnostics/empty")).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        (await app.GetAsync("/diagnostics/empty", "not-a-token")).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
    }

    [Fact]
    public async Task It_is_not_in_the_OpenAPI_document()
    {
        var document = await app.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, document.Status);
        Assert.DoesNotContain("/diagnostics", document.Body, StringComparison.Ordinal);
    }
}

public sealed class EmptyEndpointOffTests(TestApp app) : IClassFixture<TestApp>
{
    [Fact]
    public async Task By_default_there_is_no_such_endpoint()
    {
        (await app.GetAsync("/diagnostics/empty", TestApp.Token("someone", "someone@example.com"))).AssertError(HttpStatusCode.NotFound, "NotFound");
    }
}
