using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using TenantInvitations.Auth;

namespace TenantInvitations.Console;

// GET/POST /console/sign-in: the identity provider's sign-in (OIDC) and, where enabled, the dev sign-in form.
public sealed class SignInModel : ConsolePage
{
    [BindProperty] public string? Subject { get; set; }
    [BindProperty] public string? Email { get; set; }
    [BindProperty] public bool PlatformAdmin { get; set; }
    [BindProperty(SupportsGet = true)] public string? ReturnUrl { get; set; }

    public bool DevSignIn => Service<IOptions<ConsoleOptions>>().Value.DevSignIn == true;
    public bool Oidc => ConsoleOidc.IsConfigured(Service<IOptions<ConsoleOptions>>().Value);
    public List<string> Problems { get; } = [];

    public void OnGet()
    {
        if (Oidc && Request.Query.ContainsKey(ConsoleOidc.FailedQuery))
        {
            Error = "Signing in with your identity provider did not work. Try again, or ask your administrator to check the service's log.";
        }
    }

    // The dev form: the same claims a local bearer token carries, checked as a token's are.
    public async Task<IActionResult> OnPostAsync()
    {
        if (!DevSignIn)
        {
            Response.StatusCode = StatusCodes.Status404NotFound;
            Error = "The dev sign-in is off. Sign in with your identity provider.";
            return Page();
        }
        var subject = Subject?.Trim();
        var email = string.IsNullOrWhiteSpace(Email) ? null : Email.Trim();
        if (string.IsNullOrEmpty(subject))
        {
            Problems.Add("Subject is required.");
        }
        if (email is not null && EmailAddress.Problem(email, "Email") is { } emailProblem)
        {
            Problems.Add(emailProblem);
        }
        var principal = ConsoleSetup.Principal(subject ?? "", email, PlatformAdmin, emailVerified: true, ConsoleSetup.CookieScheme);
        if (Problems.Count == 0 && UnusableClaimsException.Check(principal) is { } unusable)
        {
            Problems.Add(unusable.Message.Replace("The bearer token's 'sub' claim", "Subject", StringComparison.Ordinal));
        }
        if (Problems.Count > 0)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }
        await ConsoleSetup.SignInAsync(HttpContext, principal);
        return LocalRedirect(ConsoleSetup.LocalReturnUrl(ReturnUrl));
    }

    public async Task<IActionResult> OnPostProviderAsync()
    {
        if (!Oidc)
        {
            return NotFound();
        }
        if (!await ConsoleOidc.CanReachAsync(HttpContext))
        {
            Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            Error = "The identity provider can't be reached right now. Try again in a moment.";
            return Page();
        }
        return Challenge(new AuthenticationProperties { RedirectUri = ConsoleSetup.LocalReturnUrl(ReturnUrl) }, ConsoleOidc.Scheme);
    }
}
