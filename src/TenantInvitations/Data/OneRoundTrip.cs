using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace TenantInvitations.Data;

// PostgreSQL only: the context's pending changes committed in one round trip, behind the tenant's lock and a guard.
// One command of two statements, which Npgsql sends together and PostgreSQL runs in one implicit transaction: the first
// locks the tenant's row; the second takes its snapshot
// after that lock is granted, so it sees everything an earlier holder committed, and makes the change:
//   WITH guard AS (...), changed AS (the one guarded UPDATE, or a row when the guard is empty), INSERT ... FROM changed, ...
// The UPDATE's WHERE is the entity's key and concurrency token, as SaveChanges would send, and the guard being empty; every
// insert happens only if the update did. So the lock is held while the server runs the command and commits, never across a
// round trip to the service. Each row's SQL is made from EF Core's model (table, columns, type mappings, value converters),
// so it writes what SaveChanges would, column for column.
internal static class OneRoundTrip
{
    // Commits, or returns the guard's first column when the guard blocked the change. A change a racing request made first
    // (the version moved on) throws DbUpdateConcurrencyException, and a constraint violation throws DbUpdateException with
    // PostgreSQL's error inside, as SaveChanges does, so the callers' retries and catches apply unchanged.
    // guardSql names the tenant id {0} and guardValues {1}, {2}...
    public static async Task<T?> CommitAsync<T>(AppDbContext db, long tenantId, string guardSql, object[] guardValues, CancellationToken cancellationToken)
        where T : struct
    {
        var entries = db.ChangeTracker.Entries().Where(e => e.State is EntityState.Added or EntityState.Modified).ToList();
        var modified = entries.Where(e => e.State == EntityState.Modified).ToList();
        if (modified.Count > 1 || db.ChangeTracker.Entries().Any(e => e.State == EntityState.Deleted))
        {
            throw new NotSupportedException("One round trip commits at most one update and any number of inserts.");
        }

        var parameters = new List<NpgsqlParameter>();
        var tenant = Add(parameters, tenantId);
        var guard = string.Format(CultureInfo.InvariantCulture, guardSql, [tenant, .. guardValues.Select(v => Add(parameters, v))]);
        var sql = new StringBuilder($"""
            -- {Marker}: the tenant's lock, then the guarded change and its rows
            SELECT 1 FROM tenants WHERE id = {tenant} FOR NO KEY UPDATE;
            WITH guard AS ({guard}),

            """);
        sql.Append(modified is [var update] ? $"changed AS ({Update(update, parameters)})" : "changed AS (SELECT WHERE NOT EXISTS (SELECT FROM guard))");
        var inserts = entries.Where(e => e.State == EntityState.Added).Select(e => Insert(e, parameters)).ToList();
        for (var i = 0; i < inserts.Count; i++)
        {
            sql.Append(CultureInfo.InvariantCulture, $",\ninserted{i} AS ({inserts[i]})");
        }
        sql.Append("\nSELECT (SELECT count(*) FROM changed), (SELECT * FROM guard LIMIT 1)");

        // Through EF Core's own command pipeline, so its command log and interceptors see this statement as any other.
        // Npgsql sends the two statements in one round trip, in one implicit transaction.
        var command = db.GetService<IRawSqlCommandBuilder>().Build(sql.ToString(), [.. parameters]);
        var connection = db.GetService<IRelationalConnection>();
        await connection.OpenAsync(cancellationToken);
        try
        {
            bool changed;
            T? blocker;
            await using (var reader = await command.RelationalCommand.ExecuteReaderAsync(new RelationalCommandParameterObject(connection,
                command.ParameterValues, null, db, db.GetService<IRelationalCommandDiagnosticsLogger>(), CommandSource.ExecuteSqlRaw), cancellationToken))
            {
                var rows = reader.DbDataReader;
                await rows.NextResultAsync(cancellationToken);
                await rows.ReadAsync(cancellationToken);
                changed = rows.GetInt64(0) == 1;
                blocker = await rows.IsDBNullAsync(1, cancellationToken) ? null : rows.GetFieldValue<T>(1);
            }
            if (changed)
            {
                db.ChangeTracker.AcceptAllChanges();
                return null;
            }
            return blocker ?? throw new DbUpdateConcurrencyException("The row was changed by another request since it was read.");
        }
        catch (PostgresException exception)
        {
            throw new DbUpdateException("PostgreSQL refused the change.", exception);
        }
        finally
        {
            await connection.CloseAsync();
        }
    }

    // Starts the statement's text, for the command log and for tests that hold a commit.
    public const string Marker = "one round trip";

    private static string Update(EntityEntry entry, List<NpgsqlParameter> parameters)
    {
        var table = Table(entry);
        var set = entry.Properties.Where(p => p.IsModified)
            .Select(p => $"{Column(p.Metadata, table)} = {Add(parameters, p.Metadata, p.CurrentValue)}");
        var where = entry.Properties.Where(p => p.Metadata.IsPrimaryKey() || p.Metadata.IsConcurrencyToken)
            .Select(p => $"{Column(p.Metadata, table)} = {Add(parameters, p.Metadata, p.OriginalValue)}");
        return $"UPDATE {table.Name} SET {string.Join(", ", set)} WHERE {string.Join(" AND ", where)} AND NOT EXISTS (SELECT FROM guard) RETURNING 1";
    }

    private static string Insert(EntityEntry entry, List<NpgsqlParameter> parameters)
    {
        var table = Table(entry);
        var columns = entry.Properties.Select(p => Column(p.Metadata, table)).ToList();
        var values = entry.Properties.Select(p => Add(parameters, p.Metadata, p.CurrentValue)).ToList();
        return $"INSERT INTO {table.Name} ({string.Join(", ", columns)}) SELECT {string.Join(", ", values)} FROM changed";
    }

    private static StoreObjectIdentifier Table(EntityEntry entry)
    {
        if (entry.Metadata.GetNavigations().Any(n => n.TargetEntityType.IsOwned()) || entry.Metadata.GetComplexProperties().Any())
        {
            throw new NotSupportedException($"{entry.Metadata.DisplayName()} has owned or complex properties, which one round trip does not write.");
        }
        return StoreObjectIdentifier.Table(entry.Metadata.GetTableName()!, entry.Metadata.GetSchema());
    }

    private static string Column(IProperty property, StoreObjectIdentifier table) => property.GetColumnName(table)!;

    // EF Core's type mappings make parameters through a command; this one only ever constructs them (never executes,
    // never holds one), so a single instance serves every request.
    private static readonly NpgsqlCommand ParameterFactory = new();

    // The parameter as EF Core makes it for this property (its store type and value converter), named for Npgsql to rewrite.
    private static string Add(List<NpgsqlParameter> parameters, IProperty property, object? value)
    {
        var name = $"p{parameters.Count}";
        parameters.Add((NpgsqlParameter)property.GetRelationalTypeMapping().CreateParameter(ParameterFactory, name, value, property.IsNullable));
        return $"@{name}";
    }

    private static string Add(List<NpgsqlParameter> parameters, object value)
    {
        var name = $"p{parameters.Count}";
        parameters.Add(new NpgsqlParameter(name, value));
        return $"@{name}";
    }
}
