using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
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
        .UseNpgsql(connectionString)
        .UseSnakeCaseNamingConvention()
        .ConfigureWarnings(w => w.Ignore(CoreEventId.PossibleIncorrectRequiredNavigationWithQueryFilterInteractionWarning));
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
