using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace TenantInvitations.Email;

// Sends over SMTP with MailKit: one connection per batch, opened on the first message and kept for the rest.
internal sealed class SmtpEmailSender(SmtpOptions smtp) : IEmailSender
{
    public Task<IEmailSession> OpenSessionAsync(CancellationToken cancellationToken) => Task.FromResult<IEmailSession>(new Session(smtp));

    private sealed class Session(SmtpOptions smtp) : IEmailSession
    {
        private SmtpClient? client;

        public async Task SendAsync(MimeMessage message, CancellationToken cancellationToken)
        {
            try
            {
                client ??= await ConnectAsync(cancellationToken);
                await client.SendAsync(message, cancellationToken);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested && Describe(exception) is { } failure)
            {
                if (failure.ConnectionFailed)
                {
                    await DropAsync();
                }
                throw failure;
            }
        }

        public ValueTask DisposeAsync() => DropAsync();

        private async Task<SmtpClient> ConnectAsync(CancellationToken cancellationToken)
        {
            var connecting = new SmtpClient { Timeout = (int)smtp.Timeout.TotalMilliseconds };
            try
            {
                await connecting.ConnectAsync(smtp.Host!, smtp.Port, smtp.Security, cancellationToken);
                if (!string.IsNullOrEmpty(smtp.Username))
                {
                    await connecting.AuthenticateAsync(smtp.Username, smtp.Password ?? "", cancellationToken);
                }
                return connecting;
            }
            catch
            {
                connecting.Dispose();
                throw;
            }
        }

        private async ValueTask DropAsync()
        {
            if (client is null)
            {
                return;
            }
            try
            {
                if (client.IsConnected)
                {
                    await client.DisconnectAsync(quit: true);
                }
            }
            catch (Exception exception) when (exception is IOException or SocketException or ProtocolException or OperationCanceledException)
            {
                // the connection is already gone
            }
            client.Dispose();
            client = null;
        }

        // Every way a send can fail, in words an admin can act on. Null for what is not a delivery failure.
        private DeliveryException? Describe(Exception exception) => exception switch
        {
            SmtpCommandException { StatusCode: var code } command when (int)code >= 500 => new DeliveryException(
                $"The mail server refused the email{Recipient(command)}: {(int)code} {command.Message}", permanent: true, connectionFailed: false, exception),
            SmtpCommandException { StatusCode: var code } command => new DeliveryException(
                $"The mail server deferred the email{Recipient(command)}: {(int)code} {command.Message}. It will be retried.", permanent: false, connectionFailed: false, exception),
            AuthenticationException => Unreachable("the mail server refused the login; check Email:Smtp:Username and Email:Smtp:Password", exception),
            SslHandshakeException => Unreachable("the TLS handshake with the mail server failed; check Email:Smtp:UseTls and the port", exception),
            SocketException socket => Unreachable($"could not connect ({socket.SocketErrorCode})", exception),
            SmtpProtocolException or IOException or ServiceNotConnectedException or ServiceNotAuthenticatedException =>
                Unreachable("the connection failed or was closed", exception),
            TimeoutException or OperationCanceledException => Unreachable("the mail server did not answer in time", exception),
            _ => null,
        };

        private DeliveryException Unreachable(string what, Exception exception) =>
            new($"Could not deliver through the mail server {smtp.Host}:{smtp.Port}: {what}. It will be retried.", permanent: false, connectionFailed: true, exception);

        private static string Recipient(SmtpCommandException command) =>
            command.ErrorCode == SmtpErrorCode.RecipientNotAccepted && command.Mailbox is { } mailbox ? $" for {mailbox.Address}" : "";
    }
}
