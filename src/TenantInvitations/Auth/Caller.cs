using System.Diagnostics;
using System.Security.Claims;
using TenantInvitations.Members;

namespace TenantInvitations.Auth;

// Who is calling: the bearer's claims, and (inside a tenant) their role, which is read from the database on every request.
internal sealed record Caller(string? Subject, string? Email, bool IsPlatformAdmin, string? TraceId, string? ClientAddress)
{
    public MemberRole? Role { get; init; }

    public bool IsAuthenticated => Subject is not null;
    public bool CanManageOwners => IsPlatformAdmin || Role == MemberRole.Owner;
    public string DisplayName => Email ?? Subject ?? "anonymous";
    public string? NormalizedEmail => Email is null ? null : EmailAddress.Normalize(Email);

    public static ValueTask<Caller?> BindAsync(HttpContext http) => ValueTask.FromResult<Caller?>(From(http));

    public static Caller From(HttpContext http)
    {
        if (http.Features.Get<Caller>() is { } known)
        {
            return known;
        }
        var user = http.User;
        var authenticated = user.Identity?.IsAuthenticated == true;
        // An email the identity provider says is unverified is not used to link or to match invitations.
        var email = user.FindFirstValue("email");
        if (user.FindFirstValue("email_verified") is "false" or "False")
        {
            email = null;
        }
        return new Caller(
            authenticated ? user.FindFirstValue("sub") : null,
            authenticated ? email : null,
            authenticated && user.IsInRole(AuthOptions.PlatformAdminRole),
            Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier,
            http.Connection.RemoteIpAddress?.ToString());
    }
}
