using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;

namespace TenantInvitations.Webhooks;

// The seam tests use to control name resolution (public DNS does not resolve on these machines).
internal interface IWebhookNameResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

internal sealed class DnsWebhookNameResolver : IWebhookNameResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host.TrimStart('[').TrimEnd(']'), out var address)
            ? Task.FromResult<IPAddress[]>([address])
            : Dns.GetHostAddressesAsync(host, cancellationToken);
}

internal sealed class WebhookAddressRefusedException(string message) : Exception(message);

// Webhooks go only to public addresses (SSRF protection): checked when a URL is registered and again at every connection.
internal static class WebhookAddresses
{
    public const int MaxUrlLength = 2000;
    private const int MaxHostLength = 253;

    // First match wins; the flag says whether AllowPrivateNetworks opens the range.
    // Decision: the setting opens loopback, private and shared only, never link-local (cloud metadata), multicast, unspecified, reserved or broadcast.
    private static readonly (IPNetwork Network, string Category, bool OpenedByAllowPrivate)[] RefusedRanges =
    [
        (IPNetwork.Parse("0.0.0.0/32"), "unspecified", false),
        (IPNetwork.Parse("0.0.0.0/8"), "reserved", false),
        (IPNetwork.Parse("127.0.0.0/8"), "loopback", true),
        (IPNetwork.Parse("10.0.0.0/8"), "private", true),
        (IPNetwork.Parse("172.16.0.0/12"), "private", true),
        (IPNetwork.Parse("192.168.0.0/16"), "private", true),
        (IPNetwork.Parse("100.64.0.0/10"), "shared (100.64.0.0/10)", true),
        (IPNetwork.Parse("169.254.0.0/16"), "link-local", false),
        (IPNetwork.Parse("224.0.0.0/4"), "multicast", false),
        (IPNetwork.Parse("255.255.255.255/32"), "broadcast", false),
        (IPNetwork.Parse("240.0.0.0/4"), "reserved", false),
        (IPNetwork.Parse("::/128"), "unspecified", false),
        (IPNetwork.Parse("::1/128"), "loopback", true),
        (IPNetwork.Parse("fc00::/7"), "private", true),
        // Site-local, the deprecated predecessor of fc00::/7, still routed inside some networks.
        (IPNetwork.Parse("fec0::/10"), "private", true),
        (IPNetwork.Parse("fe80::/10"), "link-local", false),
        (IPNetwork.Parse("ff00::/8"), "multicast", false),
        // Local-use NAT64 (RFC 8215): where its IPv4 address sits depends on the operator's prefix length, so it can't be judged.
        (IPNetwork.Parse("64:ff9b:1::/48"), "reserved", false),
    ];

    // IPv6 forms whose last 32 bits are an IPv4 address that the packets end up at: IPv4-compatible, IPv4-translated, NAT64.
    private static readonly IPNetwork[] EmbeddingInLast32Bits =
        [IPNetwork.Parse("::/96"), IPNetwork.Parse("::ffff:0:0:0/96"), IPNetwork.Parse("64:ff9b::/96")];

    // 6to4 carries its IPv4 address in bits 16 to 47.
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    public static string? RefusalReason(IPAddress address, bool allowPrivateNetworks)
    {
        var match = Classify(address) ?? (EmbeddedIPv4(address) is { } ipv4 ? Classify(ipv4) : null);
        return match is { } refused && !(allowPrivateNetworks && refused.OpenedByAllowPrivate) ? refused.Category : null;
    }

    private static (string Category, bool OpenedByAllowPrivate)? Classify(IPAddress address)
    {
        foreach (var (network, category, openedByAllowPrivate) in RefusedRanges)
        {
            if (network.Contains(address))
            {
                return (category, openedByAllowPrivate);
            }
        }
        return null;
    }

    private static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }
        // IPNetwork.Contains already unmaps these for IPv4 ranges; doing it here keeps the rule from resting on that detail.
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        if (EmbeddingInLast32Bits.Any(network => network.Contains(address)))
        {
            return new IPAddress(bytes[12..]);
        }
        return SixToFour.Contains(address) ? new IPAddress(bytes[2..6]) : null;
    }

    public static async Task<List<string>> UrlProblemsAsync(string? url, bool allowHttp, bool allowPrivateNetworks,
        IWebhookNameResolver resolver, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return ["The url field is required."];
        }
        if (url.Length > MaxUrlLength)
        {
            return [$"The url field must be at most {MaxUrlLength} characters."];
        }
        if (Text.HasControlCharacters(url) || url.Any(char.IsWhiteSpace))
        {
            return ["The url field must be one URL, without spaces, line breaks or control characters."];
        }
        // On Unix a bare path such as /etc/passwd parses as an absolute file: URI, which the scheme check then refuses.
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            return ["The url field must be an absolute http or https URL."];
        }
        if (uri.Host.Length == 0)
        {
            return ["The url field must name a host."];
        }

        var problems = new List<string>();
        if (uri.Scheme == Uri.UriSchemeHttp && !allowHttp)
        {
            problems.Add("The url field must be an https URL.");
        }
        // KeepDelimiter also catches an empty user-info ("https://@host/"), which UserInfo reports as "".
        if (uri.GetComponents(UriComponents.UserInfo | UriComponents.KeepDelimiter, UriFormat.UriEscaped).Length > 0)
        {
            problems.Add("The url field must not contain a user name or password.");
        }

        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6)
        {
            var address = IPAddress.Parse(uri.Host.TrimStart('[').TrimEnd(']'));
            if (RefusalReason(address, allowPrivateNetworks) is { } category)
            {
                problems.Add($"The url field's host {uri.Host} is {WithArticle(category)} address; webhooks only go to public addresses.");
            }
            return problems;
        }

        var host = uri.IdnHost;
        if (host.TrimEnd('.').Length > MaxHostLength)
        {
            problems.Add($"The url field's host name must be at most {MaxHostLength} characters.");
            return problems;
        }
        IPAddress[] resolved;
        try
        {
            resolved = await resolver.ResolveAsync(host, cancellationToken);
        }
        catch (SocketException)
        {
            // A name that does not resolve yet is accepted: every connection resolves and checks it again.
            return problems;
        }
        foreach (var address in resolved)
        {
            if (RefusalReason(address, allowPrivateNetworks) is { } category)
            {
                // The address itself is not told: a refused name would otherwise map the service's internal DNS for the caller.
                problems.Add($"The url field's host {host} resolves to {WithArticle(category)} address; webhooks only go to public addresses.");
                break;
            }
        }
        return problems;
    }

    // The handler must not use a proxy: with one, this callback would check the proxy's address instead of the webhook's.
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> ConnectCallback(
        IWebhookNameResolver resolver, bool allowPrivateNetworks) => async (context, cancellationToken) =>
    {
        var (host, port) = (context.DnsEndPoint.Host, context.DnsEndPoint.Port);
        var addresses = await resolver.ResolveAsync(host, cancellationToken);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        var refusedCategories = new List<string>();
        ExceptionDispatchInfo? lastFailure = null;
        foreach (var address in addresses)
        {
            if (RefusalReason(address, allowPrivateNetworks) is { } category)
            {
                refusedCategories.Add(category);
                continue;
            }
            // The socket connects to the very address just checked, so a second DNS answer (rebinding) can't redirect it.
            var target = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
            var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(target, port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                // An unreachable address (say IPv6 on an IPv4-only host) falls through to the next allowed one.
                socket.Dispose();
                lastFailure = ExceptionDispatchInfo.Capture(e);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        lastFailure?.Throw();
        var categories = string.Join(" and ", refusedCategories.Distinct());
        throw new WebhookAddressRefusedException(
            $"The webhook host {host} resolves only to {categories} addresses; webhooks only go to public addresses.");
    };

    private static string WithArticle(string category) => ("aeiou".Contains(category[0]) ? "an " : "a ") + category;
}
