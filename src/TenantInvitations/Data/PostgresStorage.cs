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
    // Many normalized addresses as one citext[] parameter. Compared as text[] (what EF Core sends for a string list), the
    // citext column is cast to text and its indexes are not used: a bulk request's or an import chunk's lookup scanned every
    // invitation of the tenant (docs/bulk.md).
    public static NpgsqlParameter CitextArray(IReadOnlyCollection<string> values) =>
        new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Citext, Value = values.ToArray() };

    public static void Configure(DbContextOptionsBuilder options, string connectionString) => options
        .UseNpgsql(WithDefaults(connectionString))
        .UseSnakeCaseNamingConvention()
        .ConfigureWarnings(w => w.Ignore(CoreEventId.PossibleIncorrectRequiredNavigationWithQueryFilterInteractionWarning));

    // The service runs the same few dozen statements all day and keeps no session state, so unless the connection string
    // says otherwise: Npgsql prepares the statements it sees repeatedly (Max Auto Prepare), and a pooled connection is not
    // reset each time EF Core closes it, after every query outside a transaction (No Reset On Close). Together they cut
    // PostgreSQL's CPU per get by about 40% (docs/benchmarks.md). Planning is left to PostgreSQL's default
    // (plan_cache_mode=auto): a prepared statement is planned for its parameters its first five runs, then runs one
    // generic plan only if that costs no more. Every hot statement is a plain index lookup whose generic plan is the
    // custom one (the role check is two of them: by sub, then by email), and skipping the planner on each run triples what
    // PostgreSQL does per second on a get (bench/pgbench/get_floor.sql: about 6,000/s planned per run, 21,000/s generic).
    // An operator who wants the old behaviour sets Options=-c plan_cache_mode=force_custom_plan.
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
