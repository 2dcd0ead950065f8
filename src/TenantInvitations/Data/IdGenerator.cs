using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace TenantInvitations.Data;

// Hands out int64 ids from blocks reserved in the database (hi/lo), so rows get ids without a round trip
// and an invitation with its outbox and audit rows is one SaveChanges. Ids stay small enough for JavaScript.
internal sealed class IdGenerator(IDbContextFactory<AppDbContext> contexts)
{
    public const int BlockSize = 1000;

    private readonly SemaphoreSlim refill = new(1, 1);
    private readonly Lock sync = new();
    private long next;
    private long end;

    public async ValueTask<long> NextAsync(CancellationToken cancellationToken)
    {
        long id;
        while (!TryTake(out id))
        {
            await refill.WaitAsync(cancellationToken);
            try
            {
                if (TryTake(out id))
                {
                    return id;
                }
                var block = await ReserveBlockAsync(cancellationToken);
                lock (sync)
                {
                    next = (block - 1) * BlockSize + 1;
                    end = block * BlockSize + 1;
                }
            }
            finally
            {
                refill.Release();
            }
        }
        return id;
    }

    // Several ids at once, for changes that must have them all before they lock anything.
    public async ValueTask<Queue<long>> TakeAsync(int count, CancellationToken cancellationToken)
    {
        var taken = new Queue<long>(count);
        while (taken.Count < count)
        {
            taken.Enqueue(await NextAsync(cancellationToken));
        }
        return taken;
    }

    private bool TryTake(out long id)
    {
        lock (sync)
        {
            id = next;
            if (next >= end)
            {
                return false;
            }
            next++;
            return true;
        }
    }

    // Its own connection and transaction: a block must never roll back with a caller's transaction.
    private async Task<long> ReserveBlockAsync(CancellationToken cancellationToken)
    {
        await using var db = contexts.CreateDbContext();
        await db.Database.OpenConnectionAsync(cancellationToken);
        await using var command = db.Database.GetDbConnection().CreateCommand();
        command.CommandText = "UPDATE id_blocks SET next_block = next_block + 1 WHERE name = 'global' RETURNING next_block";
        var block = await command.ExecuteScalarAsync(cancellationToken)
            ?? throw new InvalidOperationException("The id_blocks table has no 'global' row; run the migrations.");
        return Convert.ToInt64(block, System.Globalization.CultureInfo.InvariantCulture);
    }
}

internal sealed class IdBlock
{
    public required string Name { get; init; }
    public long NextBlock { get; init; }
}

internal sealed class IdBlockConfiguration : IEntityTypeConfiguration<IdBlock>
{
    public void Configure(EntityTypeBuilder<IdBlock> block)
    {
        block.HasKey(b => b.Name);
        block.Property(b => b.Name).HasMaxLength(32);
        block.HasData(new IdBlock { Name = "global", NextBlock = 0 });
    }
}
