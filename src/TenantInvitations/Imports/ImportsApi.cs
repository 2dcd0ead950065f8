using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Invitations;

namespace TenantInvitations.Imports;

// CSV imports: POST a file to start one, follow it, cancel it, download its per-line results. ImportRunner does the work.
internal static class ImportsApi
{
    public const string Description = """
        Starts importing a CSV file (`Content-Type: text/csv`, UTF-8 with or without a BOM, up to 10 MB and 100,000 rows) and answers
        202 with the import and its `Location`. The first row names the columns, in any case: `email` (required), `role`,
        `expiresInDays`, `message`, `locale`; other columns are ignored and listed in `ignoredColumns`. Comma or semicolon, RFC
        4180 quoting (separators and line breaks inside quotes), CRLF or LF. A record whose fields are all empty or blank is a blank
        line and skipped. Each row is then decided in the background by the rules of a single create, like a bulk row, and its
        email queued; the tenant's hourly quota paces the import (WaitingForQuota with `nextRunAt`), leaving
        `Imports:QuotaReserve` of it for people's own invitations. Refused before any work: a file that is not UTF-8, has no
        email column or names one twice, has no data rows or more than 100,000 (400), is over 10 MB (413), or is not text/csv
        (415). With an `Idempotency-Key`, a retry within 24 hours gets the first answer and starts nothing.
        """;

    public static void MapImports(this IEndpointRouteBuilder app)
    {
        var imports = app.MapTenantAdminGroup("/tenant/{tenantId}/admin/user/invitation/import").WithTags("Imports");
        imports.MapPost("", StartImport).WithName("StartInvitationImport")
            .WithMetadata(new RequestSizeLimitAttribute(ImportCsv.MaxBytes))
            // Described here rather than with Accepts, whose 415 would come from routing with the JSON endpoints' message.
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.RequestBody = new Microsoft.OpenApi.OpenApiRequestBody
                {
                    Required = true,
                    Description = "The CSV file, UTF-8, up to 10 MB and 100,000 rows.",
                    Content = new Dictionary<string, Microsoft.OpenApi.OpenApiMediaType>
                    {
                        ["text/csv"] = new() { Schema = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String } },
                    },
                };
                return Task.CompletedTask;
            })
            .ProducesFailures(404, 413, 415).WithIdempotencyKey()
            .WithSummary("Imports invitations from a CSV file")
            .WithDescription(Description);
        imports.MapGet("", ListImports).WithName("ListInvitationImports").ProducesFailures(404)
            .WithSummary("Lists imports, newest first")
            .WithDescription("The next page is linked in a `Link: <…>; rel=\"next\"` header; `after` is that opaque cursor.");
        imports.MapGet("/{importId}", GetImport).WithName("GetInvitationImport").ProducesFailures(404)
            .WithSummary("Gets an import and its progress")
            .WithDescription("`created` counts Created rows, `skipped` AlreadyInvited and AlreadyMember, `failed` the rest. `nextRunAt` is set while it waits for the tenant's hourly email quota.");
        imports.MapDelete("/{importId}", CancelImport).WithName("CancelInvitationImport").ProducesFailures(404)
            .WithSummary("Cancels an import")
            .WithDescription("Stops an import that has not finished; the rows already done stay done. An import that has finished is answered as it is.");
        imports.MapGet("/{importId}/results", GetResults).WithName("GetInvitationImportResults").ProducesFailures(404)
            .Produces<string>(StatusCodes.Status200OK, "text/csv")
            .WithSummary("Downloads an import's results as CSV")
            .WithDescription("`line,email,status,invitationId,error`: one row per data row decided so far, where `line` is the physical line its record starts on (the header is line 1) and `status` is as for bulk. A cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so that a spreadsheet shows it as text. UTF-8 with a BOM. Kept for `Imports:ResultRetentionDays` after the import ends, then 404.");
    }

    private static async Task<Results<Accepted<Envelope<ImportModel>>, Failure>> StartImport(
        long tenantId, Caller caller, HttpContext http, AppDbContext db, IdGenerator ids, ImportSignal signal, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        if (!IsCsv(http.Request.ContentType))
        {
            return new Failure(StatusCodes.Status415UnsupportedMediaType, new ApiError(ErrorCode.UnsupportedMediaType,
                "Send the file as UTF-8 CSV with 'Content-Type: text/csv'.", []));
        }
        if (http.Request.ContentLength > ImportCsv.MaxBytes || await ReadAsync(http.Request.Body, cancellationToken) is not { } content)
        {
            return new Failure(StatusCodes.Status413PayloadTooLarge, new ApiError(ErrorCode.PayloadTooLarge,
                $"The file is over {ImportCsv.MaxBytes / 1024 / 1024} MB; split it into several imports.", []));
        }
        return await StartAsync(tenantId, content, caller, db, ids, signal, clock, cancellationToken);
    }

    // The file's rules and the import's start, for the API's body and the console's upload alike.
    internal static async Task<Results<Accepted<Envelope<ImportModel>>, Failure>> StartAsync(long tenantId, ReadOnlyMemory<byte> content,
        Caller caller, AppDbContext db, IdGenerator ids, ImportSignal signal, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (file, problem) = ImportCsv.Parse(content.Span);
        problem ??= file!.Rows.Count == 0 ? "The file has no data rows: after the header row, each row is one invitation." : null;
        problem ??= NewInvitation.InviterProblem(caller);
        if (problem is not null)
        {
            return Failure.Validation(problem);
        }

        var now = clock.UtcNow();
        var import = new InvitationImport
        {
            Id = await ids.NextAsync(cancellationToken),
            TenantId = tenantId,
            Status = ImportStatus.Queued,
            TotalRows = file!.Rows.Count,
            IgnoredColumns = [.. file.IgnoredColumns],
            CreatedAt = now,
            ActorSubject = caller.Subject,
            ActorEmail = caller.Email,
            ActorIsPlatformAdmin = caller.IsPlatformAdmin,
            ActorRole = caller.Role,
            TraceId = caller.TraceId,
            ClientAddress = caller.ClientAddress,
        };
        db.InvitationImports.Add(import);
        db.ImportFiles.Add(new ImportFile { ImportId = import.Id, Content = content.ToArray() });
        db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(cancellationToken), caller, "import.started", tenantId, "import", import.Id, now,
            $"{import.TotalRows} rows"));
        await db.SaveChangesAsync(cancellationToken);
        signal.Notify();
        return TypedResults.Accepted($"/tenant/{tenantId}/admin/user/invitation/import/{import.Id}", Envelope.Of(import.ToModel()));
    }

    // text/csv, with no charset or UTF-8's.
    private static bool IsCsv(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var type) && type.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase)
        && type.Charset.ToString().Trim('"').ToLowerInvariant() is "" or "utf-8" or "utf8";

    // The body, or null when it is over the limit (whatever Content-Length said).
    private static async Task<ReadOnlyMemory<byte>?> ReadAsync(Stream body, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > ImportCsv.MaxBytes)
            {
                return null;
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    internal static async Task<Results<Ok<Envelope<ImportModel[]>>, Failure>> ListImports(
        long tenantId, string? after, int? limit, HttpContext http, AppDbContext db, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var page = Page.Parse(limit, after, problems);
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var query = db.InvitationImports.AsNoTracking();
        if (page.After is { } cursor)
        {
            query = query.Where(i => i.CreatedAt <= cursor.At && (i.CreatedAt < cursor.At || i.Id < cursor.Id));
        }
        var rows = await query.OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id).Take(page.Limit + 1).ToListAsync(cancellationToken);
        return ApiResults.Ok(page.Finish(http, rows, i => new Cursor(i.CreatedAt, i.Id)).Select(i => i.ToModel()).ToArray());
    }

    internal static async Task<Results<Ok<Envelope<ImportModel>>, Failure>> GetImport(long tenantId, long importId, AppDbContext db,
        CancellationToken cancellationToken) =>
        await db.InvitationImports.AsNoTracking().FirstOrDefaultAsync(i => i.Id == importId, cancellationToken) is { } import
            ? ApiResults.Ok(import.ToModel())
            : Failure.NotFound("The import");

    // Under the tenant's lock, like each chunk the runner commits: a chunk either committed before the cancel, or sees it.
    internal static async Task<Results<Ok<Envelope<ImportModel>>, Failure>> CancelImport(
        long tenantId, long importId, Caller caller, AppDbContext db, IdGenerator ids, TimeProvider clock, CancellationToken cancellationToken)
    {
        var auditId = await ids.NextAsync(cancellationToken);
        using (await SqliteWriters.EnterAsync(db, cancellationToken))
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await db.LockTenantAsync(tenantId, cancellationToken);
            if (await db.InvitationImports.FirstOrDefaultAsync(i => i.Id == importId, cancellationToken) is not { } import)
            {
                return Failure.NotFound("The import");
            }
            if (import.IsFinished)
            {
                return ApiResults.Ok(import.ToModel());
            }
            var now = clock.UtcNow();
            import.Finish(ImportStatus.Cancelled, now);
            await db.ImportFiles.Where(f => f.ImportId == importId).ExecuteDeleteAsync(cancellationToken);
            db.AuditEvents.Add(AuditEvent.Record(auditId, caller, "import.cancelled", tenantId, "import", importId, now, import.Summary));
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return ApiResults.Ok(import.ToModel());
        }
    }

    private const int ResultsPage = 5000;

    private static async Task SendAsync(Stream body, StringWriter buffer, CancellationToken cancellationToken)
    {
        var text = buffer.GetStringBuilder();
        await body.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), cancellationToken);
        text.Clear();
    }

    internal static async Task<Results<PushStreamHttpResult, Failure>> GetResults(long tenantId, long importId, AppDbContext db,
        IOptions<ImportOptions> options, CancellationToken cancellationToken)
    {
        if (await db.InvitationImports.AsNoTracking().FirstOrDefaultAsync(i => i.Id == importId, cancellationToken) is not { } import)
        {
            return Failure.NotFound("The import");
        }
        if (import.ResultsDeletedAt is not null)
        {
            return new Failure(StatusCodes.Status404NotFound, new ApiError(ErrorCode.NotFound,
                $"The import's results were deleted {options.Value.ResultRetentionDays} days after it finished, since they hold addresses.", []));
        }
        return TypedResults.Stream(async body =>
        {
            // Sep writes into a buffer, sent page by page (the response takes only asynchronous writes); a BOM first, so that a
            // spreadsheet reads the file as UTF-8.
            await body.WriteAsync(Encoding.UTF8.Preamble.ToArray(), cancellationToken);
            var buffer = new StringWriter();
            using (var writer = ImportResults.Writer(buffer))
            {
                var after = 0;
                while (true)
                {
                    var page = await db.ImportResults.AsNoTracking().Where(r => r.ImportId == importId && r.Line > after)
                        .OrderBy(r => r.Line).Take(ResultsPage).ToListAsync(cancellationToken);
                    foreach (var result in page)
                    {
                        ImportResults.Write(writer, result);
                    }
                    await SendAsync(body, buffer, cancellationToken);
                    if (page.Count < ResultsPage)
                    {
                        break;
                    }
                    after = page[^1].Line;
                }
            }
            await SendAsync(body, buffer, cancellationToken);
        }, "text/csv; charset=utf-8", $"import-{importId}-results.csv");
    }
}

// Wakes the import runner when an import starts.
internal sealed class ImportSignal : Signal;
