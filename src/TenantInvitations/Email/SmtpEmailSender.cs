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
            if (client is null)
            {
                try
                {
                    client = await ConnectAsync(cancellationToken);
                }
                catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
                {
                    // Whatever stops the connection, TLS or login stops the whole batch: it is about the server, not this email.
                    throw Unreachable(Connecting(exception), exception);
                }
            }
            try
            {
                await client.SendAsync(message, cancellationToken);
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                var failure = Sending(exception);
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

        private string Connecting(Exception exception) => exception switch
        {
            SmtpCommandException command => $"the mail server refused the connection: {(int)command.StatusCode} {command.Message}",
            AuthenticationException => "the mail server refused the login; check Email:Smtp:Username and Email:Smtp:Password",
            NotSupportedException when !string.IsNullOrEmpty(smtp.Username) && exception.Message.Contains("auth", StringComparison.OrdinalIgnoreCase) =>
                "the mail server does not offer a login; check Email:Smtp:Username",
            NotSupportedException or SslHandshakeException => "TLS could not be set up with the mail server; check Email:Smtp:UseTls and Email:Smtp:Port",
            SocketException socket => $"could not connect ({socket.SocketErrorCode})",
            TimeoutException or OperationCanceledException => "the mail server did not answer in time",
            _ => $"the connection failed ({exception.GetType().Name})",
        };

        // Only a refused recipient or message is about this email (and final when 5xx); anything else is about the server.
        private DeliveryException Sending(Exception exception) => exception switch
        {
            SmtpCommandException { ErrorCode: SmtpErrorCode.RecipientNotAccepted or SmtpErrorCode.MessageNotAccepted, StatusCode: var code } command when (int)code >= 500 =>
                new DeliveryException($"The mail server refused the email{Recipient(command)}: {(int)code} {command.Message}", permanent: true, connectionFailed: false, exception),
            SmtpCommandException { ErrorCode: SmtpErrorCode.RecipientNotAccepted or SmtpErrorCode.MessageNotAccepted, StatusCode: var code } command =>
                new DeliveryException($"The mail server deferred the email{Recipient(command)}: {(int)code} {command.Message}. It will be retried.", permanent: false, connectionFailed: false, exception),
            SmtpCommandException { ErrorCode: SmtpErrorCode.SenderNotAccepted, StatusCode: var code } command =>
                Unreachable($"the mail server refused the sender address: {(int)code} {command.Message}; check Email:Smtp:From", exception),
            SmtpCommandException { StatusCode: var code } command => Unreachable($"the mail server answered {(int)code} {command.Message}", exception),
            TimeoutException or OperationCanceledException => Unreachable("the mail server did not answer in time", exception),
            _ => Unreachable("the connection failed or was closed", exception),
        };

        private DeliveryException Unreachable(string what, Exception exception) =>
            new($"Could not deliver through the mail server {smtp.Host}:{smtp.Port}: {what}. It will be retried.", permanent: false, connectionFailed: true, exception);

        private static string Recipient(SmtpCommandException command) =>
            command.ErrorCode == SmtpErrorCode.RecipientNotAccepted && command.Mailbox is { } mailbox ? $" for {mailbox.Address}" : "";
    }
}
