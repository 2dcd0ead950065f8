using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace TenantInvitations.Console;

// POST /console/sign-out ends the console session (a GET only shows the button, so a link can't sign anyone out).
public sealed class SignOutModel : ConsolePage
{
    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync()
    {
        await HttpContext.SignOutAsync(ConsoleSetup.CookieScheme);
        return LocalRedirect(ConsoleSetup.SignInPath);
    }
}
