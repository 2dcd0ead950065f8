using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using TenantInvitations.Auth;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

namespace TenantInvitations.Imports;

[Description("Queued (not started yet), Running, WaitingForQuota (the tenant's hourly email quota is used up: see nextRunAt), Completed, Cancelled (rows already done stay done), or Failed (it failed again and again without progress).")]
internal enum ImportStatus { Queued, Running, WaitingForQuota, Completed, Cancelled, Failed }

// A CSV import: a job any node may claim with a lease (ImportRunner), its progress recorded with every chunk it commits.
internal sealed class InvitationImport
{
    public long Id { get; init; }
    public long TenantId { get; init; }
    public ImportStatus Status { get; set; }
    public int TotalRows { get; init; }
    public int ProcessedRows { get; set; }
    public int Created { get; set; }
    public int Skipped { get; set; }
    public int Failed { get; set; }
    public List<string> IgnoredColumns { get; init; } = [];
    public DateTime CreatedAt { get; init; }
    public DateTime? FinishedAt { get; set; }
    // When it may run next: at once (null), or once the tenant's quota allows (WaitingForQuota).
    public DateTime? NextRunAt { get; set; }
    public Guid? LockedBy { get; set; }
    public DateTime? LockedUntil { get; set; }
    // Claims since the last chunk was committed: a job that fails again and again is given up (Failed).
    public int Attempts { get; set; }
    public DateTime? ResultsDeletedAt { get; set; }

    // Who started it: the invitations are made in their name, with their right to invite Owners as it was at the start.
    public string? ActorSubject { get; init; }
    public string? ActorEmail { get; init; }
    public bool ActorIsPlatformAdmin { get; init; }
    public MemberRole? ActorRole { get; init; }
    public string? TraceId { get; init; }
    public string? ClientAddress { get; init; }

    public bool IsFinished => Status is ImportStatus.Completed or ImportStatus.Cancelled or ImportStatus.Failed;

    public Caller Starter => new(ActorSubject, ActorEmail, null, ActorIsPlatformAdmin, TraceId, ClientAddress) { Role = ActorRole };

    public ImportModel ToModel() => new(Id, Status, TotalRows, ProcessedRows, Created, Skipped, Failed, IgnoredColumns, CreatedAt, FinishedAt,
        Status == ImportStatus.WaitingForQuota ? NextRunAt : null);

    public string Summary => $"{ProcessedRows} of {TotalRows} rows: {Created} created, {Skipped} skipped, {Failed} failed";

    public void Finish(ImportStatus status, DateTime now)
    {
        Status = status;
        FinishedAt = now;
        NextRunAt = null;
        LockedBy = null;
        LockedUntil = null;
    }

    // Counts one decided row: created, skipped (already invited or a member) or failed (the rest).
    public void Count(BulkRowStatus status)
    {
        ProcessedRows++;
        switch (status)
        {
            case BulkRowStatus.Created: Created++; break;
            case BulkRowStatus.AlreadyInvited or BulkRowStatus.AlreadyMember: Skipped++; break;
            default: Failed++; break;
        }
    }
}

// The uploaded file, kept until the import ends: a node that takes the job over reads it again from here.
internal sealed class ImportFile
{
    public long ImportId { get; init; }
    public required byte[] Content { get; init; }
}

// One data row's result, kept for Imports:ResultRetentionDays after the import ends (it holds an address).
internal sealed class ImportResult
{
    public long ImportId { get; init; }
    public int Line { get; init; }
    public required string Email { get; init; }
    public BulkRowStatus Status { get; init; }
    public long? InvitationId { get; init; }
    public string? Error { get; init; }
}

// An import as the API shows it. nextRunAt is set while it waits for the tenant's hourly quota.
internal sealed record ImportModel(
    [property: Description("The import's id.")] long Id,
    [property: Description("Where the import is.")] ImportStatus Status,
    [property: Description("Data rows in the file: records that are not the header and not blank.")] int TotalRows,
    [property: Description("Rows decided so far; the results hold one line for each.")] int ProcessedRows,
    [property: Description("Rows that made an invitation (Created).")] int Created,
    [property: Description("Rows whose address was already invited or a member (AlreadyInvited, AlreadyMember).")] int Skipped,
    [property: Description("Rows refused (Invalid, Forbidden).")] int Failed,
    [property: Description("Header columns that are not email, role, expiresInDays, message or locale, as named in the file.")] IReadOnlyList<string> IgnoredColumns,
    [property: Description("When it was uploaded.")] DateTime CreatedAt,
    [property: Description("When it completed, was cancelled or failed; null until then.")] DateTime? FinishedAt,
    [property: Description("While WaitingForQuota: when the tenant's quota allows it to go on (it resumes by itself); else null.")] DateTime? NextRunAt);

internal sealed class ImportOptions
{
    // How long the per-row results (addresses included) are kept after an import ends.
    [Range(1, 3650)]
    public int ResultRetentionDays { get; set; } = 7;

    // The share of each tenant's hourly email quota an import leaves for people's own invitations (rounded down).
    [Range(0.0, 0.9)]
    public double QuotaReserve { get; set; } = 0.1;

    // Rows decided and committed together; progress is recorded after each chunk.
    [Range(1, 1000)]
    public int ChunkSize { get; set; } = 500;

    // How long a node owns an import it claimed without renewing; another node takes over after it.
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    // How often each node looks for imports to run (a new import wakes the node that took it at once).
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    public int ReserveOf(int emailsPerHour) => (int)Math.Floor(emailsPerHour * QuotaReserve);
}

internal sealed class ImportConfiguration : IEntityTypeConfiguration<InvitationImport>, IEntityTypeConfiguration<ImportFile>,
    IEntityTypeConfiguration<ImportResult>
{
    public void Configure(EntityTypeBuilder<InvitationImport> import)
    {
        import.ToTable("invitation_imports");
        import.Property(i => i.Id).ValueGeneratedNever();
        import.Property(i => i.Status).HasConversion<string>().HasMaxLength(20);
        import.Property(i => i.ActorRole).HasConversion<string>().HasMaxLength(20);
        import.Property(i => i.ActorSubject).HasMaxLength(Limits.Subject);
        import.Property(i => i.ActorEmail).HasMaxLength(Limits.Email);
        import.Property(i => i.TraceId).HasMaxLength(64);
        import.Property(i => i.ClientAddress).HasMaxLength(64);
        import.HasIndex(i => new { i.TenantId, i.CreatedAt, i.Id }).IsDescending(false, true, true);
        // The runners' claim looks only at imports that have not finished.
        import.HasIndex(i => i.NextRunAt).HasFilter("status IN ('Queued', 'Running', 'WaitingForQuota')").HasDatabaseName("ix_invitation_imports_due");
    }

    public void Configure(EntityTypeBuilder<ImportFile> file)
    {
        file.ToTable("invitation_import_files");
        file.HasKey(f => f.ImportId);
        file.Property(f => f.ImportId).ValueGeneratedNever();
    }

    public void Configure(EntityTypeBuilder<ImportResult> result)
    {
        result.ToTable("invitation_import_results");
        result.HasKey(r => new { r.ImportId, r.Line });
        result.Property(r => r.Status).HasConversion<string>().HasMaxLength(20);
        result.Property(r => r.Email).HasMaxLength(ImportResults.MaxStoredLength);
        result.Property(r => r.Error).HasMaxLength(ImportResults.MaxStoredLength);
    }
}
