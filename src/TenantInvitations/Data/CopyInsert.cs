using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;
using Npgsql;

namespace TenantInvitations.Data;

// PostgreSQL only, for the batches that add thousands of rows at once (a bulk request, an import's chunk): the context's added
// rows are written with one binary COPY per table, in the transaction the caller holds, and marked saved; SaveChanges then
// writes what else changed. Column names, store types and value converters come from EF Core's model, as OneRoundTrip's SQL
// does, so COPY writes what SaveChanges would, column for column. Parents go before the rows that reference them. Measured in
// docs/benchmarks.md (import_rows_per_s).
internal static partial class CopyInsert
{
    public static async Task WriteAddedAsync(AppDbContext db, CancellationToken cancellationToken)
    {
        var added = db.ChangeTracker.Entries().Where(e => e.State == EntityState.Added).GroupBy(e => e.Metadata).ToList();
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        foreach (var rows in InDependencyOrder(added))
        {
            var type = rows.Key;
            var table = StoreObjectIdentifier.Table(type.GetTableName()!, type.GetSchema());
            var columns = type.GetProperties().Select(p => (Property: p, Column: p.GetColumnName(table))).Where(c => c.Column is not null).ToList();
            await using (var writer = await connection.BeginBinaryImportAsync(
                $"COPY {table.Name} ({string.Join(", ", columns.Select(c => c.Column))}) FROM STDIN (FORMAT BINARY)", cancellationToken))
            {
                foreach (var entry in rows)
                {
                    await writer.StartRowAsync(cancellationToken);
                    foreach (var (property, _) in columns)
                    {
                        var mapping = property.GetRelationalTypeMapping();
                        var value = entry.Property(property.Name).CurrentValue;
                        value = value is null ? null : mapping.Converter?.ConvertToProvider(value) ?? value;
                        if (value is null)
                        {
                            await writer.WriteNullAsync(cancellationToken);
                        }
                        else
                        {
                            await writer.WriteAsync(value, DataTypeName(mapping.StoreType), cancellationToken);
                        }
                    }
                }
                await writer.CompleteAsync(cancellationToken);
            }
            foreach (var entry in rows)
            {
                entry.State = EntityState.Unchanged;
            }
        }
    }

    // Each table after the tables its foreign keys point to (among those being written).
    private static IEnumerable<IGrouping<IEntityType, EntityEntry>> InDependencyOrder(List<IGrouping<IEntityType, EntityEntry>> groups)
    {
        var pending = groups.ToList();
        while (pending.Count > 0)
        {
            var ready = pending.First(g => !g.Key.GetForeignKeys().Any(fk => fk.PrincipalEntityType != g.Key
                && pending.Any(other => other.Key == fk.PrincipalEntityType)));
            pending.Remove(ready);
            yield return ready;
        }
    }

    // "character varying(254)" is written as "character varying": COPY's binary format has no length.
    private static string DataTypeName(string storeType) => Facets().Replace(storeType, "");

    [GeneratedRegex(@"\(\d+(,\s*\d+)?\)")]
    private static partial Regex Facets();
}
