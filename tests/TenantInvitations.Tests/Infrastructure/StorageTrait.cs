namespace TenantInvitations.Tests;

// Tests whose outcome can't depend on the database carry [Trait(StorageTrait.Name, StorageTrait.Independent)]: scripts/test.sh runs them
// once, with the SQLite suite, and leaves them out of the PostgreSQL one.
public static class StorageTrait
{
    public const string Name = "Storage";
    public const string Independent = "Independent";
}
