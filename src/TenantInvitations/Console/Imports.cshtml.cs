using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using TenantInvitations.Data;
using TenantInvitations.Imports;

namespace TenantInvitations.Console;

// /console/tenants/{tenantId}/imports: upload a CSV file (the import endpoint's own start), follow each import's progress
// (GET …/invitation/import), cancel one (DELETE …/import/{importId}) and download its results (…/results).
[RequestSizeLimit(ImportCsv.MaxBytes + 64 * 1024)] // the file's 10 MB, and the form around it
[RequestFormLimits(MultipartBodyLengthLimit = ImportCsv.MaxBytes + 64 * 1024)]
public sealed class ImportsModel : ConsolePage
{
    [BindProperty(SupportsGet = true)] public long TenantId { get; set; }
    [BindProperty(SupportsGet = true)] public string? After { get; set; }

    internal ImportModel[] Rows { get; private set; } = [];
    public string? Next { get; private set; }
    public string Here => $"/console/tenants/{TenantId}/imports";

    // The page reloads itself (a meta refresh, no script needed) while an import is going: every 2 seconds while one runs,
    // every minute while one only waits for the email quota; never on the answer to a form, whose message would vanish.
    public int? RefreshSeconds => !HttpMethods.IsGet(Request.Method) ? null
        : Rows.Any(i => i.Status is ImportStatus.Queued or ImportStatus.Running) ? 2
        : Rows.Any(i => i.Status is ImportStatus.WaitingForQuota) ? 60 : null;

    public async Task OnGetAsync()
    {
        if (await AdmitAsync(Service<AppDbContext>()))
        {
            await LoadAsync();
            await AuditReadAsync();
        }
    }

    public async Task<IActionResult> OnPostUploadAsync(IFormFile? file)
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        if (file is null || file.Length == 0)
        {
            Error = "Choose a CSV file to upload.";
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }
        else if (file.Length > ImportCsv.MaxBytes)
        {
            Error = $"The file is over {ImportCsv.MaxBytes / 1024 / 1024} MB; split it into several imports.";
            Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        }
        else
        {
            using var content = new MemoryStream((int)file.Length);
            await file.CopyToAsync(content, HttpContext.RequestAborted);
            var result = await ImportsApi.StartAsync(TenantId, content.GetBuffer().AsMemory(0, (int)content.Length), Caller, Service<AppDbContext>(),
                Service<IdGenerator>(), Service<ImportSignal>(), Service<TimeProvider>(), HttpContext.RequestAborted);
            if (Answer<ImportModel>(result.Result) is { } started)
            {
                Tell($"Importing {started.TotalRows} rows from {Path.GetFileName(file.FileName)}.");
                return Redirect(Here);
            }
            Response.StatusCode = (result.Result as Api.Failure)?.StatusCode ?? 400;
        }
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostCancelAsync(long importId)
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await ImportsApi.CancelImport(TenantId, importId, Caller, Service<AppDbContext>(), Service<IdGenerator>(), Service<TimeProvider>(),
            HttpContext.RequestAborted);
        Report(Answer<ImportModel>(result.Result) is { } import ? $"Import {import.Id} is {import.Status}; rows already done stay done." : null);
        return Redirect(Here);
    }

    private async Task LoadAsync()
    {
        var result = await ImportsApi.ListImports(TenantId, After, null, HttpContext, Service<AppDbContext>(), HttpContext.RequestAborted);
        Rows = Answer<ImportModel[]>(result.Result) ?? [];
        Next = TakeNextCursor();
    }
}

// GET /console/tenants/{tenantId}/imports/{importId}/results: the import's results CSV, as the API streams it.
public sealed class ImportResultsModel : ConsolePage
{
    [BindProperty(SupportsGet = true)] public long TenantId { get; set; }
    [BindProperty(SupportsGet = true)] public long ImportId { get; set; }

    public async Task<IActionResult> OnGetAsync()
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await ImportsApi.GetResults(TenantId, ImportId, Service<AppDbContext>(), Service<IOptions<ImportOptions>>(), HttpContext.RequestAborted);
        if (result.Result is Api.Failure missing)
        {
            Refuse(missing);
            return Page();
        }
        await AuditReadAsync();
        await result.Result.ExecuteAsync(HttpContext);
        return new EmptyResult();
    }
}
