using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.IO.Pipelines;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using SmtpServer;
using SmtpServer.IO;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerHost = SmtpServer.SmtpServer;

namespace TenantInvitations.Bench;

// The loopback SMTP server the service delivers to: it accepts everything and notes when each Message-ID arrived.
internal sealed class SmtpSink : IDisposable
{
    private readonly ConcurrentDictionary<string, DateTime> received = new();
    private readonly SmtpServerHost server;
    private readonly CancellationTokenSource stop = new();
    private int duplicates;
    private TaskCompletionSource gate = Completed();
    private int waiting;

    // Port 0: a free one.
    public SmtpSink(int port)
    {
        Port = port == 0 ? Service.FreePort() : port;
        var options = new SmtpServerOptionsBuilder()
            .ServerName("sink.bench")
            .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, Port)))
            .Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(new Store(this));
        services.Add(new NoDelayListeners());
        server = new SmtpServerHost(options, services);
        _ = server.StartAsync(stop.Token);
    }

    public int Port { get; }
    public int Count => received.Count;
    public int Duplicates => Volatile.Read(ref duplicates);

    // When each message arrived (UTC), by Message-ID.
    public IReadOnlyDictionary<string, DateTime> Received => received;

    // While held, a message is received but not answered: the dispatcher waits on it with the rest of the outbox behind.
    public void Hold() => gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => gate.TrySetResult();

    public int Waiting => Volatile.Read(ref waiting);

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }

    public void Clear()
    {
        received.Clear();
        Interlocked.Exchange(ref duplicates, 0);
    }

    public void Dispose()
    {
        stop.Cancel();
        server.Shutdown();
    }

    private void Note(ReadOnlySequence<byte> buffer)
    {
        var now = DateTime.UtcNow;
        // MimeKit writes the header as Message-Id; any spelling is accepted.
        var head = Encoding.ASCII.GetString(buffer.Slice(0, Math.Min(buffer.Length, 8192)).ToArray());
        var at = head.IndexOf("\nMessage-Id: <", StringComparison.OrdinalIgnoreCase);
        var id = "(no Message-ID)";
        if (at >= 0)
        {
            var start = at + "\nMessage-Id: <".Length;
            var end = head.IndexOf('>', start);
            id = end >= 0 ? head[start..end] : head[start..];
        }
        if (!received.TryAdd(id, now))
        {
            Interlocked.Increment(ref duplicates);
        }
    }

    private sealed class Store(SmtpSink sink) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction,
            ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            var gate = sink.gate.Task;
            if (!gate.IsCompleted)
            {
                Interlocked.Increment(ref sink.waiting);
                await gate;
                Interlocked.Decrement(ref sink.waiting);
            }
            sink.Note(buffer);
            return SmtpResponse.Ok;
        }
    }

    // The library's own listener leaves Nagle's algorithm on, so of the replies it writes one after another to a pipelining
    // client the second waits for the client's delayed ACK: 40 ms per email. A mail server answers at once; so does this.
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
            throw new NotSupportedException("The benchmark's sink does not offer TLS.");

        public void Dispose() => stream.Dispose();
    }
}
