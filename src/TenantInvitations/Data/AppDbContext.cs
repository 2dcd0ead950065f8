using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Audit;
using TenantInvitations.Email;
using TenantInvitations.Events;
using TenantInvitations.Invitations;
using TenantInvitations.Members;
using TenantInvitations.Tenants;
using TenantInvitations.Webhooks;

namespace TenantInvitations.Data;

// One model for every provider; each provider has a small subclass that owns its migrations.
internal abstract class AppDbContext : DbContext, IDataProtectionKeyContext
{
    protected AppDbContext(DbContextOptions options) : base(options)
    {
        // An event is counted (invitation_events_total) once its change is saved, by SaveChanges or by OneRoundTrip's commit.
        ChangeTracker.StateChanged += (_, change) =>
        {
            if (change.Entry.Entity is Event saved && change.OldState == EntityState.Added && change.NewState == EntityState.Unchanged)
            {
                Operations.AppMetrics.EventWritten(saved.Type);
            }
        };
    }

    // The tenant whose rows the query filters show. Every rent starts at 0 (no tenant's rows); the request scope then sets
    // the route's tenant. A value never survives in the pool.
    public long TenantId { get; set; }

    public DbSet<Tenant> Tenants => Set<Tenant>();
    public DbSet<User> Users => Set<User>();
    public DbSet<Membership> Memberships => Set<Membership>();
    public DbSet<Invitation> Invitations => Set<Invitation>();
    public DbSet<SupersededToken> SupersededTokens => Set<SupersededToken>();
    public DbSet<OutboxMessage> OutboxMessages => Set<OutboxMessage>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();
    public DbSet<IdBlock> IdBlocks => Set<IdBlock>();
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();
    public DbSet<Event> Events => Set<Event>();
    public DbSet<EventMark> EventMarks => Set<EventMark>();
    public DbSet<WebhookEndpoint> WebhookEndpoints => Set<WebhookEndpoint>();
    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();
    public DbSet<Api.IdempotencyRecord> IdempotencyRecords => Set<Api.IdempotencyRecord>();
    public DbSet<Imports.InvitationImport> InvitationImports => Set<Imports.InvitationImport>();
    public DbSet<Imports.ImportFile> ImportFiles => Set<Imports.ImportFile>();
    public DbSet<Imports.ImportResult> ImportResults => Set<Imports.ImportResult>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.ApplyConfiguration(new TenantConfiguration());
        model.ApplyConfiguration(new UserConfiguration());
        model.ApplyConfiguration(new MembershipConfiguration());
        model.ApplyConfiguration(new InvitationConfiguration());
        model.ApplyConfiguration(new SupersededTokenConfiguration());
        model.ApplyConfiguration(new OutboxMessageConfiguration());
        model.ApplyConfiguration(new AuditEventConfiguration());
        model.ApplyConfiguration(new IdBlockConfiguration());
        model.ApplyConfiguration(new EventConfiguration());
        model.ApplyConfiguration(new EventMarkConfiguration());
        model.ApplyConfiguration(new WebhookEndpointConfiguration());
        model.ApplyConfiguration(new WebhookDeliveryConfiguration());
        model.ApplyConfiguration(new Api.IdempotencyRecordConfiguration());
        model.ApplyConfiguration<Imports.InvitationImport>(new Imports.ImportConfiguration());
        model.ApplyConfiguration<Imports.ImportFile>(new Imports.ImportConfiguration());
        model.ApplyConfiguration<Imports.ImportResult>(new Imports.ImportConfiguration());

        // Tenant isolation lives in the model: tenant-owned rows are only visible inside their tenant.
        // The invitee token endpoints and the dispatcher opt out explicitly with IgnoreQueryFilters.
        model.Entity<Invitation>().HasQueryFilter(i => i.TenantId == TenantId);
        model.Entity<Membership>().HasQueryFilter(m => m.TenantId == TenantId);
        model.Entity<OutboxMessage>().HasQueryFilter(m => m.TenantId == TenantId);
        model.Entity<AuditEvent>().HasQueryFilter(a => a.TenantId == TenantId);
        model.Entity<Event>().HasQueryFilter(e => e.TenantId == TenantId);
        // Platform endpoints (no tenant) and their deliveries are in no tenant's view.
        model.Entity<WebhookEndpoint>().HasQueryFilter(w => w.TenantId == TenantId);
        model.Entity<WebhookDelivery>().HasQueryFilter(d => d.TenantId == TenantId);
        // An import's file and results are reached through the import, which is in its tenant's view only.
        model.Entity<Imports.InvitationImport>().HasQueryFilter(i => i.TenantId == TenantId);
    }
}

internal sealed class ContextFactory<TContext>(IDbContextFactory<TContext> provider) : IDbContextFactory<AppDbContext>
    where TContext : AppDbContext
{
    public AppDbContext CreateDbContext()
    {
        var db = provider.CreateDbContext();
        db.TenantId = 0;
        // A SaveChanges inside a transaction would otherwise be wrapped in a savepoint and its release: two more statements,
        // one more round trip on PostgreSQL.
        // Nothing here goes on with a transaction after a failed SaveChanges; it is rolled back and the request answers.
        db.Database.AutoSavepointsEnabled = false;
        return db;
    }
}
