using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using StandardWebhooks;

namespace TenantInvitations.Webhooks;

// Endpoint secrets: `whsec_` + base64 of 32 random bytes, shown once, stored encrypted with the service's Data Protection
// keys (as the outbox keeps its tokens), since signing needs them back. Signatures are Standard Webhooks' own.
internal sealed class WebhookSecrets(IDataProtectionProvider protection)
{
    private const string Prefix = "whsec_";
    private readonly IDataProtector protector = protection.CreateProtector("TenantInvitations.Webhooks.Secret");

    public static string New() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public string Protect(string secret) => protector.Protect(secret);

    // Throws CryptographicException when the Data Protection keys that encrypted a secret are gone.
    public string[] Unprotect(IEnumerable<string> protectedSecrets) => [.. protectedSecrets.Select(protector.Unprotect)];

    // The webhook-signature header: one `v1,<base64>` per secret that signs now, newest first, separated by a space.
    public static string Sign(IEnumerable<string> secrets, string id, DateTimeOffset timestamp, string body) =>
        string.Join(' ', secrets.Select(secret => new StandardWebhook(secret).Sign(id, timestamp, body)));
}
