using System.Buffers;
using System.IO.Pipelines;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using MimeKit;
using SmtpServer;
using SmtpServer.IO;
using SmtpServer.Mail;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerHost = SmtpServer.SmtpServer;

namespace TenantInvitations.Tests;

// A real SMTP server on loopback, inside the test process. It keeps what it receives (parsed by MimeKit),
// can refuse recipients with a 5xx reply, can be stopped and started again on the same port, and can run
// a hook after a message is received and before it answers 250.
public sealed class SmtpSink : IAsyncDisposable
{
    private readonly ConcurrentQueue<MimeMessage> messages = new();
    private SmtpServerHost? server;
    private Task running = Task.CompletedTask;
    private int sessions;

    public SmtpSink()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Start();
    }

    public int Port { get; }
    public int Sessions => Volatile.Read(ref sessions);
    public MimeMessage[] Messages => [.. messages];

    // Recipients this returns true for are refused with 550 at RCPT TO.
    public Func<string, bool> Refuses { get; set; } = _ => false;

    // Recipients this returns true for are deferred with 451 at RCPT TO.
    public Func<string, bool> Defers { get; set; } = _ => false;

    // When true, every sender is refused with 553 at MAIL FROM.
    public bool RefusesSenders { get; set; }

    // Runs after a message is stored and before the 250 reply.
    public Func<MimeMessage, Task>? OnReceived { get; set; }

    public MimeMessage[] To(string address) =>
        [.. Messages.Where(m => m.To.Mailboxes.Any(b => string.Equals(b.Address, address, StringComparison.OrdinalIgnoreCase)))];

    public async Task<MimeMessage[]> WaitForAsync(string address, int count = 1, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (To(address).Length < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }
        var received = To(address);
        Assert.True(received.Length >= count, $"Expected {count} email(s) to {address} over SMTP, received {received.Length}.");
        return received;
    }

    public void Start()
    {
        var options = new SmtpServerOptionsBuilder()
            .ServerName("sink.test")
            .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, Port)))
            .Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(new Store(this));
        services.Add(new Filter(this));
        services.Add(new NoDelayListeners());
        server = new SmtpServerHost(options, services);
        server.SessionCreated += (_, _) => Interlocked.Increment(ref sessions);
        running = server.StartAsync(CancellationToken.None);
    }

    public async Task StopAsync()
    {
        server?.Shutdown();
        await running;
        server = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private sealed class Store(SmtpSink sink) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction,
            ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            using var stream = new MemoryStream(buffer.ToArray());
            var message = await MimeMessage.LoadAsync(stream, cancellationToken);
            sink.messages.Enqueue(message);
            if (sink.OnReceived is { } hook)
            {
                await hook(message);
            }
            return SmtpResponse.Ok;
        }
    }

    private sealed class Filter(SmtpSink sink) : IMailboxFilter
    {
        public Task<bool> CanAcceptFromAsync(ISessionContext context, IMailbox from, int size, CancellationToken cancellationToken) =>
            sink.RefusesSenders
                ? throw new SmtpResponseException(new SmtpResponse(SmtpReplyCode.MailboxNameNotAllowed, "5.7.1 Sender not allowed"))
                : Task.FromResult(true);

        public Task<bool> CanDeliverToAsync(ISessionContext context, IMailbox to, IMailbox from, CancellationToken cancellationToken)
        {
            var address = $"{to.User}@{to.Host}";
            if (sink.Refuses(address))
            {
                throw new SmtpResponseException(new SmtpResponse(SmtpReplyCode.MailboxUnavailable, "5.1.1 No such user here"));
            }
            if (sink.Defers(address))
            {
                throw new SmtpResponseException(new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy, try later"));
            }
            return Task.FromResult(true);
        }
    }

    // The library's listener leaves Nagle's algorithm on, so the second of two replies it writes in a row waits for the
    // client's delayed ACK: 40 ms an email (bench/Bench/SmtpSink.cs found it). A mail server answers at once; so does this.
    private sealed class NoDelayListeners : IEndpointListenerFactory
    {
        public IEndpointListener CreateListener(IEndpointDefinition endpoint)
        {
            var listener = new TcpListener(endpoint.Endpoint);
            listener.Start();
            return new Listener(listener);
        }
    }

    private sealed class Listener(TcpListener listener) : IEndpointListener
    {
        public async Task<ISecurableDuplexPipe> GetPipeAsync(ISessionContext context, CancellationToken cancellationToken)
        {
            var socket = await listener.AcceptSocketAsync(cancellationToken);
            socket.NoDelay = true;
            return new PlainPipe(new NetworkStream(socket, ownsSocket: true));
        }

        public void Dispose() => listener.Stop();
    }

    private sealed class PlainPipe(NetworkStream stream) : ISecurableDuplexPipe
    {
        public PipeReader Input { get; } = PipeReader.Create(stream);
        public PipeWriter Output { get; } = PipeWriter.Create(stream);
        public bool IsSecure => false;
        public SslProtocols SslProtocol => SslProtocols.None;

        public Task UpgradeAsync(X509Certificate certificate, SslProtocols protocols, CancellationToken cancellationToken) =>
            throw new NotSupportedException("The test SMTP server does not offer TLS.");

        public void Dispose() => stream.Dispose();
    }
}
