using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
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

    // Set when the tenant's admission refused: the layout shows it instead of the page.
    public string? Refusal { get; private set; }

    [TempData]
    public string? Notice { get; set; }

    [TempData]
    public string? NoticeKind { get; set; }

    public string? Error { get; set; }

    public IReadOnlyList<string> ErrorInfo { get; set; } = [];

    // Rule 2 of the API for the route's tenant: Owners and Admins (or any member, where members may), and platform admins.
    internal async Task<bool> AdmitAsync(AppDbContext db, bool managersOnly = true)
    {
        var (_, refused) = await TenantAdmin.AdmitAsync(HttpContext, db, Caller, managersOnly, HttpContext.RequestAborted);
        return refused is null || Refuse(refused);
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

    internal void Tell(string notice, string kind = "success")
    {
        Notice = notice;
        NoticeKind = kind;
    }

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
