using System.Security.Claims;
using Microsoft.Extensions.Options;
using TenantInvitations.Members;

namespace TenantInvitations.Auth;

// Who is calling: the bearer's claims, and (inside a tenant) their role, which is read from the database on every request.
// Email is for display; VerifiedEmail is the one trusted to prove a mailbox: any email of a locally signed token, but from
// an OIDC authority only one it marks email_verified; and only an ASCII address (see EmailAddress.IsAscii).
internal sealed record Caller(string? Subject, string? Email, string? VerifiedEmail, bool IsPlatformAdmin, string? TraceId, string? ClientAddress)
{
    public MemberRole? Role { get; init; }

    public bool IsAuthenticated => Subject is not null;
    public bool CanManageOwners => IsPlatformAdmin || Role == MemberRole.Owner;
    public string DisplayName => Email ?? Subject ?? "anonymous";
    public string? NormalizedEmail => VerifiedEmail is null ? null : EmailAddress.Normalize(VerifiedEmail);

    public static ValueTask<Caller?> BindAsync(HttpContext http) => ValueTask.FromResult<Caller?>(From(http));

    public static Caller From(HttpContext http)
    {
        if (http.Features.Get<Caller>() is { } known)
        {
            return known;
        }
        var user = http.User;
        var authenticated = user.Identity?.IsAuthenticated == true;
        var email = authenticated ? user.FindFirstValue("email") : null;
        var verified = user.FindFirstValue("email_verified") switch
        {
            "true" or "True" => true,
            "false" or "False" => false,
            _ => http.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value.Authority is null,
        };
        var caller = new Caller(
            authenticated ? user.FindFirstValue("sub") : null,
            email,
            verified && email is not null && EmailAddress.IsAscii(email) ? email : null,
            authenticated && user.IsInRole(AuthOptions.PlatformAdminRole),
            Operations.Telemetry.TraceIdOf(http),
            http.Connection.RemoteIpAddress?.ToString());
        http.Features.Set(caller);
        return caller;
    }
}
