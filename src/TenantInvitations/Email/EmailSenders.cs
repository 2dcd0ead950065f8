using MimeKit;

namespace TenantInvitations.Email;

// Delivers finished messages. A session serves one batch, so SMTP can reuse one connection for all of it.
internal interface IEmailSender
{
    Task<IEmailSession> OpenSessionAsync(CancellationToken cancellationToken);
}

internal interface IEmailSession : IAsyncDisposable
{
    // Throws DeliveryException when the message was not delivered.
    Task SendAsync(MimeMessage message, CancellationToken cancellationToken);
}

// Why a message was not delivered, in words for an admin. Permanent: retrying cannot help.
// ConnectionFailed: the server itself is unreachable, so the rest of the batch waits instead of trying too.
internal sealed class DeliveryException(string reason, bool permanent, bool connectionFailed, Exception? inner = null)
    : Exception(reason, inner)
{
    public bool Permanent => permanent;
    public bool ConnectionFailed => connectionFailed;
}

// The embedded default: each email becomes one .eml file, named after its Message-ID, so a retried send overwrites rather than duplicates.
internal sealed class PickupDirectorySender(string directory) : IEmailSender, IEmailSession
{
    public Task<IEmailSession> OpenSessionAsync(CancellationToken cancellationToken) => Task.FromResult<IEmailSession>(this);

    public async Task SendAsync(MimeMessage message, CancellationToken cancellationToken)
    {
        var name = string.Concat((message.MessageId ?? Guid.NewGuid().ToString("N")).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '@' ? c : '_'));
        var path = Path.Combine(directory, $"{name}.eml");
        var temporary = $"{path}.tmp";
        try
        {
            System.IO.Directory.CreateDirectory(directory);
            await message.WriteToAsync(temporary, cancellationToken);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new DeliveryException("The email could not be written to the pickup directory; the service log has the details. It will be retried.",
                permanent: false, connectionFailed: true, exception);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
