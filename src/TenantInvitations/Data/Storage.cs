using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Npgsql;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

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
        var options = Settings.Read<StorageOptions>(builder.Configuration, "Storage");
        builder.Services.AddSettings<StorageOptions>("Storage");
        var connectionString = builder.Configuration.GetConnectionString("Invitations");

        if (string.Equals(options.Provider, "Sqlite", StringComparison.OrdinalIgnoreCase))
        {
            var sqlite = SqliteStorage.Prepare(connectionString ?? DefaultConnectionString);
            builder.Services.AddPooledDbContextFactory<SqliteAppDbContext>(o => SqliteStorage.Configure(o, sqlite));
            builder.Services.AddSingleton<IDbContextFactory<AppDbContext>, ContextFactory<SqliteAppDbContext>>();
        }
        else if (string.Equals(options.Provider, "Postgres", StringComparison.OrdinalIgnoreCase))
        {
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                throw new SettingException(
                    "Storage:Provider is Postgres, so ConnectionStrings:Invitations must be set (for example Host=db;Database=invitations;Username=invitations;Password=...).");
            }
            builder.Services.AddPooledDbContextFactory<PostgresAppDbContext>(o => PostgresStorage.Configure(o, connectionString));
            builder.Services.AddSingleton<IDbContextFactory<AppDbContext>, ContextFactory<PostgresAppDbContext>>();
        }
        else
        {
            throw new SettingException($"Storage:Provider must be Sqlite or Postgres; it is '{options.Provider}'.");
        }

        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped(services =>
        {
            var db = services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
            db.TenantId = TenantRoute.Read(services.GetRequiredService<IHttpContextAccessor>().HttpContext);
            return db;
        });
        builder.Services.AddSingleton<IdGenerator>();
    }

    // Applies migrations (the `migrate` command, or at start when Storage:MigrateOnStart is true) and puts SQLite in WAL mode.
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
            // The first Data Protection key (it encrypts queued links) is made here, by the one process preparing the
            // database, so that nodes started together later all find it instead of each creating its own.
            services.GetRequiredService<IDataProtectionProvider>().CreateProtector("TenantInvitations.Storage").Protect([0]);
        }
    }

    // The one place that knows each provider's error codes.
    public static bool IsUniqueViolation(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 }
            or PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }
        || (exception.InnerException is { } inner && IsUniqueViolation(inner));

    // PostgreSQL gave up on one of two racing transactions (a deadlock or a serialization failure): run it again.
    public static bool IsRetryableConflict(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure }
        || (exception.InnerException is { } inner && IsRetryableConflict(inner));

    // The database could not be reached, is shutting down, is out of connections, or stayed locked:
    // the caller should retry later, not see a 500.
    public static bool IsUnavailable(Exception exception) =>
        exception switch
        {
            // 5 busy, 6 locked, 8 read-only (a read-only mount), 10 I/O error, 13 disk full, 14 cannot open.
            SqliteException { SqliteErrorCode: 5 or 6 or 8 or 10 or 13 or 14 } => true,
            // 08: connection exceptions; 53: insufficient resources (too many connections, disk full); 57P: shutting down or
            // starting up; 57014: cancelled by statement_timeout; 55P03: lock_timeout; 25006: a read-only server (a standby, or a
            // primary just demoted by a failover); 28: the login was refused (a rotated password); 3D000: no such database.
            PostgresException postgres => postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
                || postgres.SqlState.StartsWith("53", StringComparison.Ordinal)
                || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal)
                || postgres.SqlState.StartsWith("28", StringComparison.Ordinal)
                || postgres.SqlState is PostgresErrorCodes.QueryCanceled or PostgresErrorCodes.LockNotAvailable
                    or PostgresErrorCodes.ReadOnlySqlTransaction or PostgresErrorCodes.InvalidCatalogName,
            // Not an error the server sent: the connection failed, broke, timed out, or the pool is exhausted.
            NpgsqlException => true,
            _ => false,
        }
        || (exception.InnerException is { } inner && IsUnavailable(inner));

    // Serializes changes that must see every other change to the tenant first (the last-Owner guard, the email quota).
    // SQLite already has one writer at a time: Microsoft.Data.Sqlite begins transactions with BEGIN IMMEDIATE, which takes
    // the write lock at once. On PostgreSQL the tenant's row is locked until the transaction ends; NO KEY UPDATE, so rows
    // that only reference the tenant (an accept's membership, an audit event) are inserted without waiting for it.
    public static async Task LockTenantAsync(this AppDbContext db, long tenantId, CancellationToken cancellationToken)
    {
        if (db.Database.IsNpgsql())
        {
            await db.Database.ExecuteSqlAsync($"SELECT 1 FROM tenants WHERE id = {tenantId} FOR NO KEY UPDATE", cancellationToken);
        }
    }
}

internal static class TenantRoute
{
    public static long Read(HttpContext? http) =>
        http?.GetRouteValue("tenantId") is string value && Ids.TryParse(value, out var tenantId) && tenantId > 0 ? tenantId : 0;
}

internal sealed class SqliteAppDbContext(DbContextOptions<SqliteAppDbContext> options) : AppDbContext(options)
{
    protected override void OnModelCreating(ModelBuilder model)
    {
        base.OnModelCreating(model);
        // As citext on PostgreSQL: the unique indexes on normalized addresses ignore case in the database itself.
        model.Entity<Invitation>().Property(i => i.NormalizedEmail).UseCollation("NOCASE");
        model.Entity<User>().Property(u => u.NormalizedEmail).UseCollation("NOCASE");
        // Its position comes from an AFTER INSERT trigger, which SQLite's RETURNING would not see.
        model.Entity<Events.Event>().ToTable(t => t.UseSqlReturningClause(false));
    }

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
        // Microsoft.Data.Sqlite retries a busy database itself until this timeout (30 s by default) on top of busy_timeout;
        // unless set, give up with busy_timeout, so a write stuck behind another writer answers 503 after about 5 s (up to
        // about 10 s for the writes that first wait in SqliteWriters' queue).
        if (builder.DefaultTimeout == new SqliteConnectionStringBuilder().DefaultTimeout)
        {
            builder.DefaultTimeout = SqlitePragmas.BusyTimeoutSeconds;
        }
        return builder.ToString();
    }

    public static void Configure(DbContextOptionsBuilder options, string connectionString) => options
        .UseSqlite(connectionString)
        .UseSnakeCaseNamingConvention()
        .AddInterceptors(SqlitePragmas.Instance)
        .ConfigureWarnings(w => w.Ignore(CoreEventId.PossibleIncorrectRequiredNavigationWithQueryFilterInteractionWarning));
}

// SQLite has one writer at a time. A writer that waits inside SQLite's busy handler sleeps in growing steps (up to 100 ms)
// and the waiters wake in no particular order; the busiest writes (create, resend, the dispatcher's records) wait here
// instead, so the write lock passes on in arrival order the moment it is free. SQLite serves one node, so a lock in the
// process is enough; PostgreSQL needs none (null).
internal static class SqliteWriters
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new();

    public static async ValueTask<IDisposable?> EnterAsync(AppDbContext db, CancellationToken cancellationToken)
    {
        if (!db.Database.IsSqlite())
        {
            return null;
        }
        var gate = Gates.GetOrAdd(db.Database.GetConnectionString() ?? "", _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(TimeSpan.FromSeconds(SqlitePragmas.BusyTimeoutSeconds), cancellationToken))
        {
            throw new SqliteException("database is locked: another write held it too long", 5); // SQLITE_BUSY: 503
        }
        return new Release(gate);
    }

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}

// Per-connection settings: wait for the writer lock instead of failing, and fsync less often (safe in WAL mode).
internal sealed class SqlitePragmas : DbConnectionInterceptor
{
    public static readonly SqlitePragmas Instance = new();
    public const int BusyTimeoutSeconds = 5;
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
