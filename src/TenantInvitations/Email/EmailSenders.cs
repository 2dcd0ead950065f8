using Microsoft.Extensions.Options;
using MimeKit;

namespace TenantInvitations.Email;

// Delivers one finished message. Throwing means "not delivered"; the dispatcher decides whether to retry.
internal interface IEmailSender
{
    Task SendAsync(MimeMessage message, CancellationToken cancellationToken);
}

// The embedded default: each email becomes one .eml file, named after its Message-ID, so a retried send overwrites rather than duplicates.
internal sealed class PickupDirectorySender(IOptions<EmailOptions> options) : IEmailSender
{
    public string Directory => Path.GetFullPath(options.Value.PickupDirectory);

    public async Task SendAsync(MimeMessage message, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var name = string.Concat((message.MessageId ?? Guid.NewGuid().ToString("N")).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '@' ? c : '_'));
        var path = Path.Combine(Directory, $"{name}.eml");
        var temporary = $"{path}.tmp";
        await message.WriteToAsync(temporary, cancellationToken);
        File.Move(temporary, path, overwrite: true);
    }
}
