using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Net.Http.Headers;
using TenantInvitations.Api;
using TenantInvitations.Auth;
using TenantInvitations.Data;

namespace TenantInvitations.Console;

// What every console page shares: the caller (as the API sees them), the tenant's admission by the API's own rule, the
// answers of the API's handlers, and a message carried over a redirect.
public abstract partial class ConsolePage : PageModel
{
    internal Caller Caller => Caller.From(HttpContext);

    internal T Service<T>() where T : notnull => HttpContext.RequestServices.GetRequiredService<T>();

    internal DateTime Now => HttpContext.RequestServices.GetRequiredService<TimeProvider>().UtcNow();

    // The route's tenant, once admitted: the layout names it above the tabs.
    public string? CurrentTenantName { get; private set; }

    // Set when the tenant's admission refused: the layout shows it instead of the page.
    public string? Refusal { get; private set; }

    // What the last action did: said on this page (Say), or carried over a redirect in TempData (Tell) and read back here.
    public string? Notice { get; private set; }

    public string? NoticeKind { get; private set; }

    public string? Error { get; set; }

    public IReadOnlyList<string> ErrorInfo { get; set; } = [];

    // Rule 2 of the API for the route's tenant: Owners and Admins (or any member, where members may), and platform admins.
    internal async Task<bool> AdmitAsync(AppDbContext db, bool managersOnly = true)
    {
        var (caller, refused) = await TenantAdmin.AdmitAsync(HttpContext, db, Caller, managersOnly, HttpContext.RequestAborted);
        if (refused is not null)
        {
            // The API's refusal, except that to someone who is not in the tenant at all its pages are not there: the console
            // does not tell outsiders which tenants exist. A Member of it is refused with the API's 403.
            return Refuse(refused.StatusCode == StatusCodes.Status403Forbidden && caller is { Role: null, IsPlatformAdmin: false }
                ? Failure.NotFound("The tenant") : refused);
        }
        CurrentTenantName = await db.Tenants.AsNoTracking().Where(t => t.Id == db.TenantId).Select(t => t.Name).FirstOrDefaultAsync(HttpContext.RequestAborted);
        return true;
    }

    // A platform admin's read of a tenant they are not a member of is audited, as the API's are.
    internal Task AuditReadAsync() => TenantAdmin.AuditPlatformReadAsync(HttpContext, Service<AppDbContext>(), HttpContext.RequestAborted);

    // The refusal as a page with the API's status: 404 for what is not there, 403 for what the person may not see.
    internal bool Refuse(Failure failure)
    {
        Response.StatusCode = failure.StatusCode ?? StatusCodes.Status400BadRequest;
        Refusal = failure.Error.Message;
        return false;
    }

    // The value of a handler's success, or null with the failure shown on the page.
    internal T? Answer<T>(IResult result) where T : class
    {
        switch (result is INestedHttpResult nested ? nested.Result : result)
        {
            case IValueHttpResult<Envelope<T>> { Value: { } envelope }:
                return envelope.Value;
            case Failure failure:
                Show(failure);
                return null;
            case var other:
                throw new InvalidOperationException($"The console does not expect {other.GetType().Name} here.");
        }
    }

    internal void Show(Failure failure)
    {
        Error = failure.Error.Message;
        ErrorInfo = failure.Error.Info;
    }

    // The failure in one line, for a notice carried over a redirect.
    internal string ErrorText() => ErrorInfo.Count == 0 ? Error ?? "" : $"{Error} {string.Join(" ", ErrorInfo)}";

    // What a form did, carried over its redirect: the success, or (when done is null) the API's refusal.
    internal void Report(string? done) => Tell(done ?? ErrorText(), done is null ? "error" : "success");

    // For an answer that redirects: the next page shows it, once.
    internal void Tell(string notice, string kind = "success")
    {
        TempData[nameof(Notice)] = notice;
        TempData[nameof(NoticeKind)] = kind;
    }

    // For an answer that is this page: shown now, and not again on the next one.
    internal void Say(string notice, string kind = "success") => (Notice, NoticeKind) = (notice, kind);

    public override void OnPageHandlerExecuting(PageHandlerExecutingContext context) =>
        (Notice, NoticeKind) = (TempData[nameof(Notice)] as string, TempData[nameof(NoticeKind)] as string);

    // A list handler links its next page in a Link header, as the API does; the console takes the cursor from it for its own link.
    internal string? TakeNextCursor()
    {
        if (!Response.Headers.TryGetValue(HeaderNames.Link, out var link))
        {
            return null;
        }
        Response.Headers.Remove(HeaderNames.Link);
        var match = AfterParameter().Match(link.ToString());
        return match.Success ? Uri.UnescapeDataString(match.Groups[1].Value) : null;
    }

    [GeneratedRegex("[?&]after=([^&>]+)")]
    private static partial Regex AfterParameter();
}

// Times in words, with the exact UTC time for a tooltip.
public static class When
{
    public static string Exact(DateTime at) => at.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    public static string Iso(DateTime at) => at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Words(DateTime at, DateTime now)
    {
        var span = at - now;
        var future = span > TimeSpan.Zero;
        var size = future ? span : -span;
        var amount = size switch
        {
            { TotalSeconds: < 45 } => future ? "in a few seconds" : "just now",
            { TotalMinutes: < 1.5 } => "1 minute",
            { TotalMinutes: < 45 } => $"{Math.Round(size.TotalMinutes)} minutes",
            { TotalHours: < 1.5 } => "1 hour",
            { TotalHours: < 22 } => $"{Math.Round(size.TotalHours)} hours",
            { TotalDays: < 1.5 } => "1 day",
            { TotalDays: < 45 } => $"{Math.Round(size.TotalDays)} days",
            _ => $"{Math.Round(size.TotalDays / 30)} months",
        };
        return amount.Contains(' ', StringComparison.Ordinal) && (amount.StartsWith("in ", StringComparison.Ordinal) || amount == "just now") ? amount
            : future ? $"in {amount}" : $"{amount} ago";
    }
}
