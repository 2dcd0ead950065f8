using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

namespace TenantInvitations.Data;

// PostgreSQL: its own migrations (Data/Migrations/Postgres), times as timestamptz, and emails compared without case.
internal sealed class PostgresAppDbContext(DbContextOptions<PostgresAppDbContext> options) : AppDbContext(options)
{
    protected override void OnModelCreating(ModelBuilder model)
    {
        base.OnModelCreating(model);
        // The normalized addresses are already lower case; citext makes their unique indexes case-insensitive in the
        // database itself, so no writer (a script, a future bulk import) can slip a second "pending" past them.
        model.HasPostgresExtension("citext");
        model.Entity<Invitation>().Property(i => i.NormalizedEmail).HasColumnType("citext");
        model.Entity<User>().Property(u => u.NormalizedEmail).HasColumnType("citext");
    }
}

internal static class PostgresStorage
{
    public static void Configure(DbContextOptionsBuilder options, string connectionString) => options
        .UseNpgsql(WithDefaults(connectionString))
        .UseSnakeCaseNamingConvention()
        .ConfigureWarnings(w => w.Ignore(CoreEventId.PossibleIncorrectRequiredNavigationWithQueryFilterInteractionWarning));

    // The service runs the same few dozen statements all day and keeps no session state, so unless the connection string
    // says otherwise: Npgsql prepares the statements it sees repeatedly (Max Auto Prepare), a pooled connection is not
    // reset each time EF Core closes it, after every query outside a transaction (No Reset On Close), and each execution
    // is planned for its own parameters (plan_cache_mode). Together they cut PostgreSQL's CPU per get by about 40%
    // (docs/benchmarks.md).
    public static string WithDefaults(string connectionString)
    {
        // NpgsqlConnectionStringBuilder.ContainsKey says whether a keyword exists at all; what the operator wrote is
        // read with the plain builder, spaces and case aside (Npgsql accepts "Max Auto Prepare" as "maxautoprepare").
        var written = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.Keys
            .Cast<string>().Select(k => k.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant()).ToHashSet();
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!written.Contains("maxautoprepare"))
        {
            builder.MaxAutoPrepare = 64;
        }
        if (!written.Contains("noresetonclose"))
        {
            builder.NoResetOnClose = true;
        }
        // After five runs PostgreSQL may switch a prepared statement to one generic plan for all parameter values. For
        // the role check (by sub, or by email for users who never signed in) that plan read every such user: 60 ms a
        // request once a few thousand people had joined by link (the benchmark found it). Plans stay per execution.
        if (builder.Options?.Contains("plan_cache_mode", StringComparison.OrdinalIgnoreCase) != true)
        {
            builder.Options = $"{builder.Options} -c plan_cache_mode=force_custom_plan".Trim();
        }
        return builder.ConnectionString;
    }
}

internal sealed class PostgresDesignTimeFactory : Microsoft.EntityFrameworkCore.Design.IDesignTimeDbContextFactory<PostgresAppDbContext>
{
    // Only builds the model for `dotnet ef migrations add`; nothing connects.
    public PostgresAppDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<PostgresAppDbContext>();
        PostgresStorage.Configure(options, "Host=localhost;Database=design_time");
        return new PostgresAppDbContext(options.Options);
    }
}
