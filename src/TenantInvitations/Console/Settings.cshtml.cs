using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Data;
using TenantInvitations.Invitations;
using TenantInvitations.Tenants;

namespace TenantInvitations.Console;

// /console/tenants/{tenantId}/settings: branding, locale, validity, allowed domains and quota (GET and PUT …/admin/settings),
// each of the API's validation messages shown next to its field; and the tenant's name (PUT /tenant/{tenantId}).
public sealed class SettingsModel : ConsolePage
{
    // The API's field names, as its messages name them.
    public static readonly string[] Fields = ["displayName", "replyTo", "defaultLocale", "invitationValidityDays", "allowedEmailDomains", "emailsPerHour"];

    [BindProperty(SupportsGet = true)] public long TenantId { get; set; }
    [BindProperty] public string? DisplayName { get; set; }
    [BindProperty] public string? ReplyTo { get; set; }
    [BindProperty] public string? DefaultLocale { get; set; }
    [BindProperty] public string? InvitationValidityDays { get; set; }
    [BindProperty] public string? AllowedEmailDomains { get; set; }
    [BindProperty] public string? EmailsPerHour { get; set; }
    [BindProperty] public string? TenantName { get; set; }

    public Dictionary<string, List<string>> FieldProblems { get; } = [];
    public int? DefaultValidityDays { get; private set; }
    public int? DefaultEmailsPerHour { get; private set; }
    public string Here => $"/console/tenants/{TenantId}/settings";

    public async Task OnGetAsync()
    {
        if (await AdmitAsync(Service<AppDbContext>()) && await LoadAsync())
        {
            await AuditReadAsync();
        }
    }

    public async Task<IActionResult> OnPostSaveAsync()
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        // A number that is no number is the API's 400 as well; the form says so next to the field.
        var validity = Number(InvitationValidityDays, "invitationValidityDays");
        var quota = Number(EmailsPerHour, "emailsPerHour");
        if (FieldProblems.Count == 0)
        {
            var request = new TenantSettingsRequest(Blank(DisplayName), Blank(ReplyTo), Blank(DefaultLocale), validity,
                AllowedEmailDomains is { } domains ? domains.Split(['\n', '\r', ',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null,
                quota);
            var result = await SettingsApi.PutSettings(TenantId, request, Caller, Service<AppDbContext>(), Service<IdGenerator>(),
                Service<IOptions<InvitationOptions>>(), Service<TimeProvider>(), HttpContext.RequestAborted);
            if (Answer<TenantSettingsModel>(result.Result) is not null)
            {
                Tell("Saved the settings.");
                return Redirect(Here);
            }
            Response.StatusCode = (result.Result as Api.Failure)?.StatusCode ?? 400;
            SortProblems();
        }
        else
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }
        TenantName = await CurrentNameAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostRenameAsync()
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await TenantsApi.RenameTenant(TenantId, new RenameTenantRequest(TenantName), Caller, Service<AppDbContext>(), Service<IdGenerator>(),
            Service<IOptions<InvitationOptions>>(), Service<TimeProvider>(), HttpContext.RequestAborted);
        Report(Answer<TenantModel>(result.Result) is { } renamed ? $"Renamed the tenant {renamed.Name}." : null);
        return Redirect(Here);
    }

    private async Task<bool> LoadAsync()
    {
        var result = await SettingsApi.GetSettings(TenantId, Service<AppDbContext>(), Service<IOptions<InvitationOptions>>(), HttpContext.RequestAborted);
        if (result.Result is Api.Failure missing)
        {
            return Refuse(missing);
        }
        var settings = Answer<TenantSettingsModel>(result.Result)!;
        (TenantName, DisplayName, ReplyTo, DefaultLocale) = (settings.Name, settings.DisplayName, settings.ReplyTo, settings.DefaultLocale);
        // A value the tenant does not set itself is left blank, with the service's default as the placeholder: saving the form
        // then keeps following the default instead of fixing today's value as the tenant's own.
        var own = await Service<AppDbContext>().Tenants.AsNoTracking().Where(t => t.Id == TenantId)
            .Select(t => new { t.InvitationValidityDays, t.EmailsPerHour }).FirstAsync(HttpContext.RequestAborted);
        (DefaultValidityDays, DefaultEmailsPerHour) = (settings.InvitationValidityDays, settings.EmailsPerHour);
        InvitationValidityDays = own.InvitationValidityDays?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        EmailsPerHour = own.EmailsPerHour?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        AllowedEmailDomains = string.Join("\n", settings.AllowedEmailDomains);
        return true;
    }

    private async Task<string?> CurrentNameAsync() =>
        Answer<TenantModel>((await TenantsApi.GetTenant(TenantId, Service<AppDbContext>(), HttpContext.RequestAborted)).Result)?.Name;

    // Each message of the API's failure goes next to the field it names; the rest stay at the top.
    private void SortProblems()
    {
        var general = new List<string>();
        foreach (var problem in ErrorInfo.Append(Error ?? "").Where(p => p.Length > 0).Distinct())
        {
            if (Fields.FirstOrDefault(f => problem.Contains(f, StringComparison.Ordinal)) is { } field)
            {
                Problem(field, problem);
            }
            else if (problem != Error)
            {
                general.Add(problem);
            }
        }
        ErrorInfo = general;
        if (general.Count == 0 && FieldProblems.Count > 0)
        {
            Error = null; // the notice above the form says it, and each message is by its field
        }
    }

    private int? Number(string? text, string field)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        // Any whole number goes to the API, whose range check answers it (one too big for an int is out of every range).
        if (long.TryParse(text.Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            return (int)Math.Clamp(value, int.MinValue, int.MaxValue);
        }
        Problem(field, $"The {field} field must be a whole number.");
        return null;
    }

    private void Problem(string field, string message)
    {
        if (!FieldProblems.TryGetValue(field, out var list))
        {
            FieldProblems[field] = list = [];
        }
        list.Add(message);
    }

    public (string Id, List<string>? Problems) ProblemsFor(string field) => (field, FieldProblems.GetValueOrDefault(field));

    public string? DescribedBy(string field) => FieldProblems.ContainsKey(field) ? $"{field}-problems" : null;

    public string? Invalid(string field) => FieldProblems.ContainsKey(field) ? "true" : null;

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
