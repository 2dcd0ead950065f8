using System.Globalization;
using System.Net.Mail;
using System.Text.RegularExpressions;

namespace TenantInvitations;

internal static partial class EmailAddress
{
    public static string Normalize(string email) => email.Trim().ToLowerInvariant();

    // Only ASCII addresses are invited or matched: Unicode case folding maps look-alikes onto real addresses (the Kelvin
    // sign K lower-cases to k), which would let one mailbox stand for another.
    public static bool IsAscii(string email) => System.Text.Ascii.IsValid(email);

    // A single bare address (no display name), short enough for SMTP, with nothing that could break a mail header.
    public static string? Problem(string? email, string field)
    {
        if (string.IsNullOrWhiteSpace(email))
        {
            return $"The {field} field is required.";
        }
        if (email.Length > Limits.Email)
        {
            return $"The {field} field must be at most {Limits.Email} characters.";
        }
        if (Text.HasControlCharacters(email) || email.Trim().Any(c => char.IsWhiteSpace(c) || char.GetUnicodeCategory(c) == UnicodeCategory.Format))
        {
            return $"The {field} field must not contain spaces, line breaks, invisible or control characters.";
        }
        if (!IsAscii(email))
        {
            return $"The {field} field must be an ASCII address; internationalized addresses are not supported.";
        }
        var trimmed = email.Trim();
        // Both parsers must agree: .NET's, and MimeKit's, which builds the headers of the email.
        return MailAddress.TryCreate(trimmed, out var parsed) && parsed.Address == trimmed && BareAddress().IsMatch(trimmed)
            && MimeKit.MailboxAddress.TryParse(trimmed, out var mailbox) && mailbox.Address == trimmed
            ? null
            : $"The {field} field must be a valid email address, such as someone@example.com.";
    }

    [GeneratedRegex(@"^[^@<>""(),;:\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")]
    private static partial Regex BareAddress();

    // Shows enough of an address for its owner to recognise it: j***@example.com.
    public static string Mask(string email)
    {
        var at = email.LastIndexOf('@');
        return at <= 0 ? "***" : $"{email[0]}***{email[at..]}";
    }
}

internal static partial class Text
{
    // Control characters (line breaks only where allowed), bidirectional overrides that disguise text,
    // and lone surrogates have no place in names, addresses or messages.
    public static bool HasControlCharacters(string value, bool allowLineBreaks = false)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
                continue;
            }
            if (char.IsSurrogate(c) || IsBidiControl(c) || (char.IsControl(c) && !(allowLineBreaks && c is '\n' or '\r' or '\t')))
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsBidiControl(char c) => c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    // A BCP 47 language tag such as en, de or pt-BR.
    public static bool IsLocale(string value) => value.Length <= Limits.Locale && LocaleTag().IsMatch(value);

    [GeneratedRegex("^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
    private static partial Regex LocaleTag();
}

internal static class Ids
{
    // Digits only: no sign, spaces, line breaks or culture-specific forms.
    public static bool TryParse(string value, out long id) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out id);
}
