using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace TenantInvitations.Data;

internal sealed class StorageOptions
{
    public string Provider { get; set; } = "Sqlite";
    public bool MigrateOnStart { get; set; } = true;
}

internal static class Storage
{
    public const string DefaultConnectionString = "Data Source=data/invitations.db";

    public static void AddStorage(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("Storage").Get<StorageOptions>() ?? new StorageOptions();
        builder.Services.AddOptions<StorageOptions>().BindConfiguration("Storage");
        var connectionString = builder.Configuration.GetConnectionString("Invitations") ?? DefaultConnectionString;

        if (!string.Equals(options.Provider, "Sqlite", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Storage:Provider '{options.Provider}' is not supported. Use 'Sqlite'.");
        }
        var sqlite = SqliteStorage.Prepare(connectionString);
        builder.Services.AddPooledDbContextFactory<SqliteAppDbContext>(o => SqliteStorage.Configure(o, sqlite));
        builder.Services.AddSingleton<IDbContextFactory<AppDbContext>, ContextFactory<SqliteAppDbContext>>();

        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped(services =>
        {
            var db = services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
            db.TenantId = TenantRoute.Read(services.GetRequiredService<IHttpContextAccessor>().HttpContext);
            return db;
        });
        builder.Services.AddSingleton<IdGenerator>();
    }

    // Applies migrations when Storage:MigrateOnStart is true (the default) and puts SQLite in WAL mode.
    public static async Task PrepareAsync(IServiceProvider services, bool migrate, CancellationToken cancellationToken = default)
    {
        await using var db = services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        if (db.Database.IsSqlite())
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode = WAL;", cancellationToken);
        }
        if (migrate)
        {
            await db.Database.MigrateAsync(cancellationToken);
        }
    }

    public static bool IsUniqueViolation(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 }
        || (exception.InnerException is { } inner && IsUniqueViolation(inner));

    // The database could not be reached or stayed locked: the caller should retry later, not see a 500.
    public static bool IsUnavailable(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 5 or 6 or 10 or 14 }
        || (exception.InnerException is { } inner && IsUnavailable(inner));
}

internal static class TenantRoute
{
    public static long Read(HttpContext? http) =>
        http?.GetRouteValue("tenantId") is string value && Ids.TryParse(value, out var tenantId) && tenantId > 0 ? tenantId : 0;
}

internal sealed class SqliteAppDbContext(DbContextOptions<SqliteAppDbContext> options) : AppDbContext(options)
{
    protected override void ConfigureConventions(ModelConfigurationBuilder conventions)
    {
        // SQLite stores no offset; every time here is UTC, so mark it as such when reading back.
        conventions.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        conventions.Properties<DateTime?>().HaveConversion<UtcDateTimeConverter>();
    }

    private sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
        value => value, value => DateTime.SpecifyKind(value, DateTimeKind.Utc));
}

internal static class SqliteStorage
{
    // A relative Data Source is relative to the working directory; its folder is created if missing.
    public static string Prepare(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (builder.Mode is not SqliteOpenMode.Memory && !string.IsNullOrEmpty(builder.DataSource))
        {
            var path = Path.GetFullPath(builder.DataSource);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            builder.DataSource = path;
        }
        return builder.ToString();
    }

    public static void Configure(DbContextOptionsBuilder options, string connectionString) => options
        .UseSqlite(connectionString)
        .UseSnakeCaseNamingConvention()
        .AddInterceptors(SqlitePragmas.Instance)
        .ConfigureWarnings(w => w.Ignore(CoreEventId.PossibleIncorrectRequiredNavigationWithQueryFilterInteractionWarning));
}

// Per-connection settings: wait for the writer lock instead of failing, and fsync less often (safe in WAL mode).
internal sealed class SqlitePragmas : DbConnectionInterceptor
{
    public static readonly SqlitePragmas Instance = new();
    private const string Pragmas = "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

internal sealed class SqliteDesignTimeFactory : Microsoft.EntityFrameworkCore.Design.IDesignTimeDbContextFactory<SqliteAppDbContext>
{
    public SqliteAppDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<SqliteAppDbContext>();
        SqliteStorage.Configure(options, "Data Source=design-time.db");
        return new SqliteAppDbContext(options.Options);
    }
}
