namespace TenantInvitations.Console;

// The console's sign-in through the identity provider at Auth:Authority.
internal static class ConsoleOidc
{
    public const string Scheme = "console-oidc";

    public static bool IsConfigured(ConsoleOptions options) => !string.IsNullOrWhiteSpace(options.ClientId);
}
