using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using TenantInvitations.Data;

namespace TenantInvitations.Tests;

// The database one test app (or one group of service processes) runs on. SQLite by default: a file in the test's folder.
// With TEST_DB_PROVIDER=Postgres, a fresh database on the server named by TEST_POSTGRES (an admin connection string);
// scripts/test.sh starts a throwaway cluster and sets both. A missing server fails the tests; nothing is skipped.
public sealed class TestDatabase : IDisposable
{
    private TestDatabase(string provider, string connectionString)
    {
        Provider = provider;
        ConnectionString = connectionString;
    }

    public static bool IsPostgres =>
        string.Equals(Environment.GetEnvironmentVariable("TEST_DB_PROVIDER"), "Postgres", StringComparison.OrdinalIgnoreCase);

    public string Provider { get; }
    public string ConnectionString { get; }

    public IEnumerable<KeyValuePair<string, string>> Settings =>
        [new("Storage:Provider", Provider), new("ConnectionStrings:Invitations", ConnectionString)];

    // The same settings as command-line arguments, for a service process.
    public string[] Arguments => [.. Settings.Select(s => $"--{s.Key}={s.Value}")];

    public static TestDatabase Create(string folder)
    {
        if (!IsPostgres)
        {
            return new TestDatabase("Sqlite", $"Data Source={Path.Combine(folder, "invitations.db")}");
        }
        var admin = Environment.GetEnvironmentVariable("TEST_POSTGRES")
            ?? throw new InvalidOperationException("TEST_DB_PROVIDER=Postgres needs TEST_POSTGRES, an admin connection string; scripts/test.sh sets both.");
        var name = $"ti_{Guid.NewGuid():N}";
        using (var connection = new NpgsqlConnection(admin))
        {
            connection.Open();
            using var create = connection.CreateCommand();
            create.CommandText = $"CREATE DATABASE {name}";
            create.ExecuteNonQuery();
        }
        return new TestDatabase("Postgres", new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString);
    }

    // The tables of the database an open connection points at, by name.
    public static async Task<List<string>> TablesAsync(System.Data.Common.DbConnection connection)
    {
        await using var list = connection.CreateCommand();
        list.CommandText = connection is NpgsqlConnection
            ? "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
            : "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name";
        await using var reader = await list.ExecuteReaderAsync();
        var tables = new List<string>();
        while (await reader.ReadAsync())
        {
            tables.Add(reader.GetString(0));
        }
        return tables;
    }

    public System.Data.Common.DbConnection Connect() =>
        Provider == "Sqlite" ? new SqliteConnection(ConnectionString) : new NpgsqlConnection(ConnectionString);

    // Adds interceptors to whichever provider's context the app uses.
    public static void AddInterceptors(IServiceCollection services, params IInterceptor[] interceptors)
    {
        services.ConfigureDbContext<SqliteAppDbContext>(options => options.AddInterceptors(interceptors));
        services.ConfigureDbContext<PostgresAppDbContext>(options => options.AddInterceptors(interceptors));
    }

    public void Dispose()
    {
        if (Provider == "Sqlite")
        {
            SqliteConnection.ClearAllPools();
            return;
        }
        using (var pooled = new NpgsqlConnection(ConnectionString))
        {
            NpgsqlConnection.ClearPool(pooled);
        }
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        var name = builder.Database;
        builder.Database = "postgres";
        builder.Pooling = false;
        using var connection = new NpgsqlConnection(builder.ConnectionString);
        connection.Open();
        using var drop = connection.CreateCommand();
        drop.CommandText = $"DROP DATABASE IF EXISTS {name} WITH (FORCE)";
        drop.ExecuteNonQuery();
    }
}
