using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using MimeKit;
using TenantInvitations.Email;

namespace TenantInvitations.Tests;

// Everything one test app said to the outside: each response as its client received it (status line, headers, body)
// and each log line (message, exception, structured values and scopes). TestApp scans it for secrets when it is disposed.
public sealed class Transcript
{
    private const int MaxBody = 4 * 1024 * 1024;
    private readonly ConcurrentQueue<(string Where, string Text)> entries = new();

    public IReadOnlyCollection<(string Where, string Text)> Entries => entries;

    public void Add(string where, string text) => entries.Enqueue((where, text));

    // First in the pipeline, so it sees exactly what leaves the server, error pages included.
    public IStartupFilter Responses => new ResponseCapture(this);

    // The log levels are the service's own (appsettings.json), which is what an operator's logs hold; on top, EF Core's command
    // log at Information (SQL text, never parameter values), to show no token reaches SQL. Not Microsoft.AspNetCore at
    // Information: ASP.NET Core's "Request starting" line holds the query string, so it would log ?token= (LeakScanTests shows it).
    public void CaptureLogs(ILoggingBuilder logging)
    {
        logging.AddProvider(new LogCapture(this));
        logging.AddFilter<LogCapture>("Microsoft.EntityFrameworkCore.Database.Command", LogLevel.Information);
    }

    public void Clear() => entries.Clear();

    private sealed class ResponseCapture(Transcript transcript) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (http, nextMiddleware) =>
            {
                var original = http.Response.Body;
                await using var tee = new TeeStream(original, MaxBody);
                http.Response.Body = tee;
                try
                {
                    await nextMiddleware(http);
                }
                finally
                {
                    http.Response.Body = original;
                    var text = new StringBuilder($"HTTP {http.Response.StatusCode}\n");
                    foreach (var (name, values) in http.Response.Headers)
                    {
                        text.Append(name).Append(": ").Append(values.ToString()).Append('\n');
                    }
                    text.Append('\n').Append(tee.Text);
                    // The request's path names the response, never its query, which may carry the token the client sent.
                    transcript.Add($"response to {http.Request.Method} {http.Request.Path}", text.ToString());
                }
            });
            next(app);
        };
    }

    private sealed class TeeStream(Stream inner, int limit) : Stream
    {
        private readonly MemoryStream copy = new();

        public string Text => Encoding.UTF8.GetString(copy.GetBuffer(), 0, (int)copy.Length);
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Keep(buffer);
            inner.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Keep(buffer.Span);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        private void Keep(ReadOnlySpan<byte> buffer)
        {
            lock (copy)
            {
                copy.Write(buffer[..Math.Min(buffer.Length, Math.Max(0, limit - (int)copy.Length))]);
            }
        }
    }

    private sealed class LogCapture(Transcript transcript) : ILoggerProvider, ISupportExternalScope
    {
        private readonly Transcript transcript = transcript;
        private IExternalScopeProvider scopes = new LoggerExternalScopeProvider();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;
        public void Dispose() { }

        private sealed class Logger(LogCapture provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider.scopes.Push(state);
            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                // What a structured (JSON) console would write too: every state value and every scope.
                var text = new StringBuilder($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)}\n{exception}");
                if (state is IEnumerable<KeyValuePair<string, object?>> values)
                {
                    foreach (var (key, value) in values)
                    {
                        text.Append('\n').Append(key).Append('=').Append(value);
                    }
                }
                provider.scopes.ForEachScope((scope, builder) => builder.Append("\nscope ").Append(scope), text);
                provider.transcript.Add($"log {logLevel} {category}", text.ToString());
            }
        }
    }
}

// The secrets of a test run: invitation tokens (from the emails, or minted by a test), their SHA-256 in hex, base64 and
// base64url, and accept links. Finds them in captured text, also after undoing JSON, HTML and URL escaping.
public sealed partial class LeakScan
{
    private static readonly int[] Lengths = [43, 44, 64];
    private readonly Dictionary<string, string> secrets = new(StringComparer.Ordinal);

    public int Count => secrets.Count;

    public void AddToken(string token)
    {
        secrets.TryAdd(token, $"invitation token {token[..6]}…");
        AddHash(SHA256.HashData(Encoding.ASCII.GetBytes(token)), $"the hash of token {token[..6]}…");
    }

    // A webhook secret: found by its base64 part, with or without its whsec_ prefix.
    public void AddSecret(string secret, string label) => secrets.TryAdd(secret[(secret.IndexOf('_') + 1)..], label);

    public void AddHash(byte[] hash, string label)
    {
        var base64 = Convert.ToBase64String(hash);
        foreach (var (form, text) in new[]
        {
            ("hex", Convert.ToHexString(hash)), ("hex", Convert.ToHexStringLower(hash)),
            ("base64", base64), ("base64", base64.TrimEnd('=')), ("base64url", System.Buffers.Text.Base64Url.EncodeToString(hash)),
        })
        {
            secrets.TryAdd(text, $"{label} ({form})");
        }
    }

    // Every token in the accept links of these emails, in their text and HTML parts.
    public void AddTokensFrom(IEnumerable<MimeMessage> emails)
    {
        foreach (var email in emails)
        {
            foreach (Match match in LinkToken().Matches($"{email.TextBody}\n{email.HtmlBody}"))
            {
                AddToken(match.Groups[1].Value);
            }
        }
    }

    // Each problem once, as "where: what".
    public List<string> Find(IEnumerable<(string Where, string Text)> entries, bool hashesToo = true)
    {
        var lookup = secrets.GetAlternateLookup<ReadOnlySpan<char>>();
        var problems = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (where, text) in entries)
        {
            foreach (var variant in Variants(text))
            {
                if (AcceptLink().IsMatch(variant))
                {
                    problems.Add($"{where}: an accept link");
                }
                var span = variant.AsSpan();
                var run = 0;
                // Walk backwards so `run` is the length of the secret-alphabet run starting at i; only long runs can hold a secret.
                for (var i = span.Length - 1; i >= 0; i--)
                {
                    run = IsSecretChar(span[i]) ? run + 1 : 0;
                    foreach (var length in Lengths)
                    {
                        if (run >= length && lookup.TryGetValue(span.Slice(i, length), out _, out var label)
                            && (hashesToo || label.StartsWith("invitation token", StringComparison.Ordinal)))
                        {
                            problems.Add($"{where}: {label}");
                        }
                    }
                }
            }
        }
        return [.. problems];
    }

    private static bool IsSecretChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '+' or '/' or '=';

    private static IEnumerable<string> Variants(string text)
    {
        yield return text;
        if (text.Contains('\\') || text.Contains('&') || text.Contains('%'))
        {
            var unescaped = JsonEscape().Replace(text, m => ((char)Convert.ToInt32(m.Groups[1].Value, 16)).ToString()).Replace("\\/", "/");
            yield return Uri.UnescapeDataString(WebUtility.HtmlDecode(unescaped));
        }
    }

    [GeneratedRegex(@"token=([A-Za-z0-9_-]{43})")]
    private static partial Regex LinkToken();

    [GeneratedRegex(@"accept\?token=", RegexOptions.IgnoreCase)]
    private static partial Regex AcceptLink();

    [GeneratedRegex(@"\\u([0-9A-Fa-f]{4})")]
    private static partial Regex JsonEscape();
}
