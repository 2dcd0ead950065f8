using TenantInvitations.Data;

namespace TenantInvitations.Tests;

// The Npgsql settings the service adds to the operator's connection string unless it already says otherwise.
public sealed class PostgresDefaultsTests
{
    [Fact]
    public void Prepared_statements_and_no_reset_on_close_are_added_when_the_connection_string_does_not_say()
    {
        var settings = new Npgsql.NpgsqlConnectionStringBuilder(PostgresStorage.WithDefaults("Host=db;Database=invitations;Username=app"));

        Assert.Equal(64, settings.MaxAutoPrepare);
        Assert.True(settings.NoResetOnClose);
        Assert.Null(settings.Options); // planning is PostgreSQL's default
        Assert.Equal("db", settings.Host);
        Assert.Equal("invitations", settings.Database);
        Assert.Equal("app", settings.Username);
    }

    [Theory]
    [InlineData("Host=db;Options='-c search_path=app'", "-c search_path=app")]
    [InlineData("Host=db;Options=-c plan_cache_mode=force_custom_plan", "-c plan_cache_mode=force_custom_plan")]
    public void The_operator_s_options_pass_through_unchanged(string connectionString, string options)
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
