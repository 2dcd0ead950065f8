using System.Security.Cryptography;
using System.Text;

namespace TenantInvitations.Invitations;

// The secret in an accept link: 256 random bits, base64url. Only its SHA-256 is stored.
internal static class InvitationToken
{
    public const int Length = 43;

    public static (string Value, byte[] Hash) New()
    {
        var value = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (value, Hash(value));
    }

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.ASCII.GetBytes(token));

    public static bool IsWellFormed(string? token) =>
        token is { Length: Length } && token.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
