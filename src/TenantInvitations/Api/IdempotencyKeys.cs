using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using TenantInvitations.Data;

namespace TenantInvitations.Api;

// Idempotency-Key on the endpoints that make many things at once (bulk, import): a client that timed out sends the same
// request again and gets the first answer, and nothing is made twice. Keys are per tenant and endpoint and kept for a day
// (API.md). The first request claims the key with an insert that the primary key lets only one request win; the answer is
// recorded once it is written (not a 5xx: those free the key), and replayed byte for byte with `Idempotent-Replayed: true`.
internal static class IdempotencyKeys
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    public const int MaxLength = 255;
    public static readonly TimeSpan KeptFor = TimeSpan.FromHours(24);
    // A first request whose node died keeps its key for this long, then a retry may take it over.
    public static readonly TimeSpan RunningLease = TimeSpan.FromMinutes(2);

    // After the tenant-role filter (a group's filters run first), so only someone who may call the endpoint sees its answers.
    public static RouteHandlerBuilder WithIdempotencyKey(this RouteHandlerBuilder builder) => builder
        .AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (!http.Request.Headers.TryGetValue(Header, out var values))
            {
                return await next(context);
            }
            if (values.Count > 1 || !IsValid(values[0]))
            {
                return Failure.Validation($"The {Header} header must be one value of 1 to {MaxLength} visible ASCII characters.");
            }
            var scope = http.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName ?? http.Request.Path.Value!;
            var claim = new Claim(http, TenantRoute.Read(http), scope, values[0]!, await HashAsync(context));
            if (await claim.TakeAsync() is { } answered)
            {
                return answered;
            }
            object? result;
            try
            {
                result = await next(context);
                if (result is not IResult written)
                {
                    await claim.ForgetAsync();
                    return result;
                }
                return await claim.RecordAsync(written);
            }
            catch
            {
                await claim.ForgetAsync();
                throw;
            }
        })
        .ProducesFailures(StatusCodes.Status409Conflict, StatusCodes.Status422UnprocessableEntity)
        .WithMetadata(new Accepted());

    // Marks an endpoint that reads the header, so the OpenAPI document declares it (OpenApiSetup).
    public sealed record Accepted;

    // 1 to 255 characters from '!' to '~' (no spaces, no control characters, nothing outside ASCII).
    public static bool IsValid(string? key) => key is { Length: > 0 and <= MaxLength } && key.All(c => c is >= '!' and <= '~');

    // The same body is the same JSON (whitespace and property order as sent don't matter: the bound request is hashed as the
    // service writes it), or the same bytes for a body the handler reads itself (a CSV).
    private static async Task<byte[]> HashAsync(EndpointFilterInvocationContext context)
    {
        if (context.Arguments.OfType<IIdempotentBody>().FirstOrDefault() is { } body)
        {
            return SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), ApiJson.Options));
        }
        var request = context.HttpContext.Request;
        request.EnableBuffering();
        var hash = await SHA256.HashDataAsync(request.Body, context.HttpContext.RequestAborted);
        request.Body.Position = 0;
        return hash;
    }

    private sealed class Claim(HttpContext http, long tenantId, string scope, string key, byte[] hash)
    {
        private readonly IDbContextFactory<AppDbContext> contexts = http.RequestServices.GetRequiredService<IDbContextFactory<AppDbContext>>();
        private readonly TimeProvider clock = http.RequestServices.GetRequiredService<TimeProvider>();
        // When this request claimed the key: a request that ran past RunningLease and lost its claim to a retry must not
        // record its answer into (or free) the retry's claim.
        private DateTime claimedAt;

        // Claims the key, or answers: the first answer replayed, 422 for another body, 409 while the first still runs. The key is
        // read before it is inserted, so a retry answers at once even while the first request holds SQLite's one writer.
        public async Task<IResult?> TakeAsync()
        {
            for (var attempt = 0; attempt < 5; attempt++)
            {
                var now = clock.UtcNow();
                await using var db = contexts.CreateDbContext();
                var first = await db.IdempotencyRecords.AsNoTracking()
                    .FirstOrDefaultAsync(r => r.TenantId == tenantId && r.Scope == scope && r.Key == key, http.RequestAborted);
                if (first is null)
                {
                    db.IdempotencyRecords.Add(new IdempotencyRecord
                    {
                        TenantId = tenantId, Scope = scope, Key = key, RequestHash = hash, CreatedAt = now, RunningUntil = now + RunningLease,
                    });
                    try
                    {
                        await db.SaveChangesAsync(http.RequestAborted);
                        claimedAt = now;
                        return null;
                    }
                    catch (DbUpdateException exception) when (Storage.IsUniqueViolation(exception))
                    {
                        continue; // another request claimed it a moment ago: read its claim
                    }
                }
                if (first.CreatedAt <= now - KeptFor || (first.StatusCode is null && first.RunningUntil <= now))
                {
                    // Past its day, or its request's node died: the key is free again, for whoever deletes it first.
                    await db.IdempotencyRecords.Where(r => r.TenantId == tenantId && r.Scope == scope && r.Key == key && r.CreatedAt == first.CreatedAt)
                        .ExecuteDeleteAsync(http.RequestAborted);
                    continue;
                }
                if (!first.RequestHash.AsSpan().SequenceEqual(hash))
                {
                    return new Failure(StatusCodes.Status422UnprocessableEntity, new ApiError(ErrorCode.IdempotencyKeyReused,
                        $"This {Header} was used with a different request body; use a new key for a new request.", []));
                }
                if (first.StatusCode is not { } status)
                {
                    return InUse();
                }
                return new Replay(status, first.Location, first.ResponseBody ?? "");
            }
            return InUse();
        }

        private static Failure InUse() => new(StatusCodes.Status409Conflict, new ApiError(ErrorCode.IdempotencyKeyInUse,
            $"A request with this {Header} is still running; send it again when it has finished to get its answer.", []), TimeSpan.FromSeconds(1));

        // Writes the answer, and keeps it for the replays unless it is a 5xx.
        public async Task<IResult> RecordAsync(IResult result)
        {
            var original = http.Response.Body;
            using var buffer = new MemoryStream();
            http.Response.Body = buffer;
            try
            {
                await result.ExecuteAsync(http);
            }
            finally
            {
                http.Response.Body = original;
            }
            var status = http.Response.StatusCode;
            if (status >= 500)
            {
                await ForgetAsync();
            }
            else
            {
                var body = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
                var location = http.Response.Headers.Location.ToString();
                await using var db = contexts.CreateDbContext();
                await db.IdempotencyRecords.Where(r => r.TenantId == tenantId && r.Scope == scope && r.Key == key && r.StatusCode == null && r.CreatedAt == claimedAt)
                    .ExecuteUpdateAsync(s => s.SetProperty(r => r.StatusCode, status).SetProperty(r => r.ResponseBody, body)
                        .SetProperty(r => r.Location, location.Length > 0 ? location : null).SetProperty(r => r.RunningUntil, (DateTime?)null),
                        CancellationToken.None);
            }
            buffer.Position = 0;
            await buffer.CopyToAsync(original, http.RequestAborted);
            return Results.Empty;
        }

        // The request failed before it answered: the key is free for the retry.
        public async Task ForgetAsync()
        {
            await using var db = contexts.CreateDbContext();
            await db.IdempotencyRecords.Where(r => r.TenantId == tenantId && r.Scope == scope && r.Key == key && r.StatusCode == null && r.CreatedAt == claimedAt)
                .ExecuteDeleteAsync(CancellationToken.None);
        }
    }

    // The first answer, as it was written.
    private sealed class Replay(int status, string? location, string body) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.StatusCode = status;
            http.Response.Headers[ReplayedHeader] = "true";
            if (location is not null)
            {
                http.Response.Headers.Location = location;
            }
            http.Response.ContentType = "application/json; charset=utf-8";
            return http.Response.WriteAsync(body, http.RequestAborted);
        }
    }
}

// A bound request body the Idempotency-Key filter hashes as JSON.
internal interface IIdempotentBody;

// One Idempotency-Key of one tenant and endpoint: the body's hash, and the answer once there is one.
internal sealed class IdempotencyRecord
{
    public long TenantId { get; init; }
    public required string Scope { get; init; }
    public required string Key { get; init; }
    public required byte[] RequestHash { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime? RunningUntil { get; set; }
    public int? StatusCode { get; set; }
    public string? ResponseBody { get; set; }
    public string? Location { get; set; }
}

internal sealed class IdempotencyRecordConfiguration : IEntityTypeConfiguration<IdempotencyRecord>
{
    public void Configure(EntityTypeBuilder<IdempotencyRecord> record)
    {
        record.HasKey(r => new { r.TenantId, r.Scope, r.Key });
        record.Property(r => r.Scope).HasMaxLength(64);
        record.Property(r => r.Key).HasMaxLength(IdempotencyKeys.MaxLength);
        record.Property(r => r.Location).HasMaxLength(300);
        record.HasIndex(r => r.CreatedAt);
    }
}

// Deletes keys past their day, in batches, on every node.
internal sealed class IdempotencyKeyRetention(
    IDbContextFactory<AppDbContext> contexts, TimeProvider clock, IHostApplicationLifetime lifetime, ILogger<IdempotencyKeyRetention> logger)
    : PeriodicWork(lifetime, logger)
{
    public const int BatchSize = 500;

    protected override string Name => "idempotency key retention";
    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    public override async Task<bool> RunBatchAsync(CancellationToken cancellationToken)
    {
        var cutoff = clock.UtcNow() - IdempotencyKeys.KeptFor;
        await using var db = contexts.CreateDbContext();
        var old = await db.IdempotencyRecords.Where(r => r.CreatedAt <= cutoff).OrderBy(r => r.CreatedAt).Take(BatchSize)
            .Select(r => r.CreatedAt).ToListAsync(cancellationToken);
        if (old.Count == 0)
        {
            return false;
        }
        var last = old[^1];
        await db.IdempotencyRecords.Where(r => r.CreatedAt <= last).ExecuteDeleteAsync(cancellationToken);
        return old.Count == BatchSize;
    }
}
