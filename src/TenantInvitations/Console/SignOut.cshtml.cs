using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace TenantInvitations.Console;

// POST /console/sign-out ends the console session (a GET only shows the button, so a link can't sign anyone out).
public sealed class SignOutModel : ConsolePage
{
    public void OnGet()
    {
    }

    // With OIDC, the provider's session ends too where it offers RP-initiated logout; it sends the browser back to sign-in.
    public async Task<IActionResult> OnPostAsync()
    {
        if (ConsoleOidc.IsConfigured(Service<IOptions<ConsoleOptions>>().Value) && await ConsoleOidc.CanEndSessionAsync(HttpContext))
        {
            return SignOut(new AuthenticationProperties { RedirectUri = ConsoleSetup.SignInPath }, ConsoleSetup.CookieScheme, ConsoleOidc.Scheme);
        }
        await HttpContext.SignOutAsync(ConsoleSetup.CookieScheme);
        return LocalRedirect(ConsoleSetup.SignInPath);
    }
}
