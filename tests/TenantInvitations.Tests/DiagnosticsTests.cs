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

// The Npgsql settings the service adds to the operator's connection string unless it already says otherwise.
public sealed class PostgresDefaultsTests
{
    [Fact]
    public void Prepared_statements_and_no_reset_on_close_are_added_when_the_connection_string_does_not_say()
    {
        var settings = new Npgsql.NpgsqlConnectionStringBuilder(PostgresStorage.WithDefaults("Host=db;Database=invitations;Username=app"));

        Assert.Equal(64, settings.MaxAutoPrepare);
        Assert.True(settings.NoResetOnClose);
        Assert.Equal("-c plan_cache_mode=force_custom_plan", settings.Options);
        Assert.Equal("db", settings.Host);
        Assert.Equal("invitations", settings.Database);
        Assert.Equal("app", settings.Username);
    }

    [Theory]
    [InlineData("Host=db;Options='-c search_path=app'", "-c search_path=app -c plan_cache_mode=force_custom_plan")]
    [InlineData("Host=db;Options=-c plan_cache_mode=auto", "-c plan_cache_mode=auto")]
    public void Custom_plans_are_asked_for_beside_the_operator_s_options_unless_they_name_plan_cache_mode(string connectionString, string options)
    {
        Assert.Equal(options, new Npgsql.NpgsqlConnectionStringBuilder(PostgresStorage.WithDefaults(connectionString)).Options);
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0;No Reset On Close=false", 0, false)]
    [InlineData("Host=db;maxautoprepare=5;noresetonclose=false", 5, false)]
    [InlineData("Host=db;MAX AUTO PREPARE=7", 7, true)]
    public void What_the_operator_wrote_wins(string connectionString, int maxAutoPrepare, bool noResetOnClose)
    {
        var settings = new Npgsql.NpgsqlConnectionStringBuilder(PostgresStorage.WithDefaults(connectionString));

        Assert.Equal(maxAutoPrepare, settings.MaxAutoPrepare);
        Assert.Equal(noResetOnClose, settings.NoResetOnClose);
    }
}
