using System.Net;
using System.Net.Sockets;
using System.Text;
using TenantInvitations.Webhooks;

namespace TenantInvitations.Tests.Webhooks;

// SSRF protection for webhook calls: which addresses are refused, which URLs are accepted, and that the connection
// itself goes only to an address that was checked.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class WebhookAddressesTests
{
    private const string PublicOnly = "; webhooks only go to public addresses.";

    [Theory]
    // Loopback, and the edges of 127.0.0.0/8.
    [InlineData("127.0.0.1", "loopback", null)]
    [InlineData("127.0.0.0", "loopback", null)]
    [InlineData("127.255.255.255", "loopback", null)]
    [InlineData("126.255.255.255", null, null)]
    [InlineData("128.0.0.0", null, null)]
    [InlineData("::1", "loopback", null)]
    // Private (RFC 1918 and fc00::/7), with their edges.
    [InlineData("10.0.0.0", "private", null)]
    [InlineData("10.255.255.255", "private", null)]
    [InlineData("9.255.255.255", null, null)]
    [InlineData("11.0.0.0", null, null)]
    [InlineData("172.16.0.0", "private", null)]
    [InlineData("172.31.255.255", "private", null)]
    [InlineData("172.15.255.255", null, null)]
    [InlineData("172.32.0.0", null, null)]
    [InlineData("192.168.0.0", "private", null)]
    [InlineData("192.168.255.255", "private", null)]
    [InlineData("192.167.255.255", null, null)]
    [InlineData("192.169.0.0", null, null)]
    [InlineData("fc00::", "private", null)]
    [InlineData("fd12:3456:789a::1", "private", null)]
    [InlineData("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private", null)]
    [InlineData("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", null, null)]
    [InlineData("fec0::1", "private", null)]
    // Shared address space (carrier-grade NAT).
    [InlineData("100.64.0.0", "shared (100.64.0.0/10)", null)]
    [InlineData("100.127.255.255", "shared (100.64.0.0/10)", null)]
    [InlineData("100.63.255.255", null, null)]
    [InlineData("100.128.0.0", null, null)]
    // Link-local, the cloud metadata service included: refused even when private networks are allowed.
    [InlineData("169.254.169.254", "link-local", "link-local")]
    [InlineData("169.254.0.0", "link-local", "link-local")]
    [InlineData("169.254.255.255", "link-local", "link-local")]
    [InlineData("169.253.255.255", null, null)]
    [InlineData("169.255.0.0", null, null)]
    [InlineData("fe80::1", "link-local", "link-local")]
    [InlineData("fe80::1%2", "link-local", "link-local")]
    [InlineData("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local", "link-local")]
    // Multicast.
    [InlineData("224.0.0.0", "multicast", "multicast")]
    [InlineData("239.255.255.255", "multicast", "multicast")]
    [InlineData("223.255.255.255", null, null)]
    [InlineData("ff02::1", "multicast", "multicast")]
    [InlineData("ff00::", "multicast", "multicast")]
    // Unspecified, 0.0.0.0/8, 240.0.0.0/4 and broadcast.
    [InlineData("0.0.0.0", "unspecified", "unspecified")]
    [InlineData("::", "unspecified", "unspecified")]
    [InlineData("0.0.0.1", "reserved", "reserved")]
    [InlineData("0.255.255.255", "reserved", "reserved")]
    [InlineData("1.0.0.0", null, null)]
    [InlineData("240.0.0.0", "reserved", "reserved")]
    [InlineData("255.255.255.254", "reserved", "reserved")]
    [InlineData("255.255.255.255", "broadcast", "broadcast")]
    // IPv6 forms judged by the IPv4 address they embed: mapped, compatible, translated, NAT64, 6to4.
    [InlineData("::ffff:127.0.0.1", "loopback", null)]
    [InlineData("::ffff:10.0.0.5", "private", null)]
    [InlineData("::ffff:169.254.169.254", "link-local", "link-local")]
    [InlineData("::ffff:0.0.0.0", "unspecified", "unspecified")]
    [InlineData("::ffff:93.184.216.34", null, null)]
    [InlineData("::127.0.0.1", "loopback", null)]
    [InlineData("::169.254.169.254", "link-local", "link-local")]
    [InlineData("::ffff:0:10.0.0.5", "private", null)]
    [InlineData("64:ff9b::127.0.0.1", "loopback", null)]
    [InlineData("64:ff9b::a9fe:a9fe", "link-local", "link-local")]
    [InlineData("64:ff9b::100.64.0.1", "shared (100.64.0.0/10)", null)]
    [InlineData("64:ff9b::93.184.216.34", null, null)]
    [InlineData("64:ff9b:1::5db8:d822", "reserved", "reserved")]
    [InlineData("2002:7f00:1::", "loopback", null)]
    [InlineData("2002:c0a8:101::1", "private", null)]
    [InlineData("2002:a9fe:a9fe::1", "link-local", "link-local")]
    [InlineData("2002:5db8:d822::1", null, null)]
    // Public addresses.
    [InlineData("93.184.216.34", null, null)]
    [InlineData("8.8.8.8", null, null)]
    [InlineData("2606:4700::1111", null, null)]
    [InlineData("2001:4860:4860::8888", null, null)]
    public void Refusal_reason_names_the_category_of_each_address(string address, string? refused, string? refusedWithPrivateNetworksAllowed)
    {
        Assert.Equal(refused, WebhookAddresses.RefusalReason(IPAddress.Parse(address), allowPrivateNetworks: false));
        Assert.Equal(refusedWithPrivateNetworksAllowed, WebhookAddresses.RefusalReason(IPAddress.Parse(address), allowPrivateNetworks: true));
    }

    [Theory]
    [InlineData(null, false, "The url field is required.")]
    [InlineData(" ", false, "The url field is required.")]
    [InlineData("hooks/receive", false, "The url field must be an absolute http or https URL.")]
    [InlineData("/hooks/receive", false, "The url field must be an absolute http or https URL.")]
    [InlineData("//public.example.test/hooks", false, "The url field must be an absolute http or https URL.")]
    [InlineData("ftp://public.example.test/hooks", false, "The url field must be an absolute http or https URL.")]
    [InlineData("file:///etc/passwd", false, "The url field must be an absolute http or https URL.")]
    [InlineData("javascript:alert(1)", false, "The url field must be an absolute http or https URL.")]
    [InlineData("https://user:secret@public.example.test/", false, "The url field must not contain a user name or password.")]
    [InlineData("https://user@public.example.test/", false, "The url field must not contain a user name or password.")]
    [InlineData("https://@public.example.test/", false, "The url field must not contain a user name or password.")]
    [InlineData("http://public.example.test/hooks", false, "The url field must be an https URL.")]
    [InlineData("http://public.example.test/hooks", true)]
    [InlineData("https://public.example.test:8443/hooks?source=invitations", false)]
    [InlineData("HTTPS://PUBLIC.example.test/", false)]
    [InlineData("https://93.184.216.34/hooks", false)]
    [InlineData("https://[2606:4700::1111]/hooks", false)]
    [InlineData("https://10.0.0.5/hooks", false, "The url field's host 10.0.0.5 is a private address" + PublicOnly)]
    [InlineData("https://[::1]/hooks", false, "The url field's host [::1] is a loopback address" + PublicOnly)]
    [InlineData("https://[::ffff:10.0.0.5]/hooks", false, "The url field's host [::ffff:10.0.0.5] is a private address" + PublicOnly)]
    [InlineData("https://2130706433/hooks", false, "The url field's host 127.0.0.1 is a loopback address" + PublicOnly)]
    [InlineData("https://0x7f.1/hooks", false, "The url field's host 127.0.0.1 is a loopback address" + PublicOnly)]
    [InlineData("https://0.0.0.0/hooks", false, "The url field's host 0.0.0.0 is an unspecified address" + PublicOnly)]
    [InlineData("https://169.254.169.254/latest/meta-data/", false, "The url field's host 169.254.169.254 is a link-local address" + PublicOnly)]
    [InlineData("https://private.example.test/hooks", false, "The url field's host private.example.test resolves to a private address" + PublicOnly)]
    [InlineData("https://mixed.example.test/hooks", false, "The url field's host mixed.example.test resolves to a private address" + PublicOnly)]
    [InlineData("https://shared.example.test/hooks", false,
        "The url field's host shared.example.test resolves to a shared (100.64.0.0/10) address" + PublicOnly)]
    [InlineData("https://missing.example.test/hooks", false)]
    [InlineData("https://empty.example.test/hooks", false)]
    [InlineData("http://user@10.0.0.5/hooks", false, "The url field must be an https URL.",
        "The url field must not contain a user name or password.", "The url field's host 10.0.0.5 is a private address" + PublicOnly)]
    public async Task Url_problems_explain_what_is_wrong(string? url, bool allowHttp, params string[] expected)
    {
        var problems = await WebhookAddresses.UrlProblemsAsync(url, allowHttp, allowPrivateNetworks: false, NamedHosts(), CancellationToken.None);
        Assert.Equal(expected, problems);
    }

    [Theory]
    [InlineData("https://private.example.test/hooks")]
    [InlineData("https://shared.example.test/hooks")]
    [InlineData("https://127.0.0.1:5001/hooks")]
    [InlineData("https://[fd00::5]/hooks")]
    public async Task Private_addresses_are_accepted_when_private_networks_are_allowed(string url)
    {
        Assert.Empty(await WebhookAddresses.UrlProblemsAsync(url, allowHttp: false, allowPrivateNetworks: true, NamedHosts(), CancellationToken.None));
    }

    [Theory]
    [InlineData("https://169.254.169.254/latest/meta-data/", "The url field's host 169.254.169.254 is a link-local address" + PublicOnly)]
    [InlineData("https://metadata.example.test/", "The url field's host metadata.example.test resolves to a link-local address" + PublicOnly)]
    [InlineData("https://[ff02::1]/", "The url field's host [ff02::1] is a multicast address" + PublicOnly)]
    public async Task Cloud_metadata_and_multicast_stay_refused_when_private_networks_are_allowed(string url, string expected)
    {
        var problems = await WebhookAddresses.UrlProblemsAsync(url, allowHttp: false, allowPrivateNetworks: true, NamedHosts(), CancellationToken.None);
        Assert.Equal([expected], problems);
    }

    [Fact]
    public async Task Url_may_be_2000_characters_but_not_2001()
    {
        var prefix = "https://public.example.test/";
        var longest = prefix + new string('a', WebhookAddresses.MaxUrlLength - prefix.Length);
        Assert.Empty(await WebhookAddresses.UrlProblemsAsync(longest, false, false, NamedHosts(), CancellationToken.None));
        Assert.Equal(["The url field must be at most 2000 characters."],
            await WebhookAddresses.UrlProblemsAsync(longest + "a", false, false, NamedHosts(), CancellationToken.None));
    }

    [Fact]
    public async Task Host_name_longer_than_dns_allows_is_refused_without_a_lookup()
    {
        var host = string.Join('.', Enumerable.Repeat(new string('a', 60), 5));
        Assert.Equal(["The url field's host name must be at most 253 characters."],
            await WebhookAddresses.UrlProblemsAsync($"https://{host}/", false, false, NamedHosts(), CancellationToken.None));
    }

    [Fact]
    public async Task Ip_literals_resolve_to_themselves_without_dns()
    {
        var resolver = new DnsWebhookNameResolver();
        Assert.Equal([IPAddress.Parse("10.0.0.5")], await resolver.ResolveAsync("10.0.0.5", CancellationToken.None));
        Assert.Equal([IPAddress.IPv6Loopback], await resolver.ResolveAsync("::1", CancellationToken.None));
        Assert.Equal([IPAddress.IPv6Loopback], await resolver.ResolveAsync("[::1]", CancellationToken.None));
    }

    [Fact]
    public async Task Connection_to_a_name_resolving_to_loopback_is_refused_before_connecting()
    {
        using var listener = StartListener(out var port);
        var resolver = new FakeResolver(_ => [IPAddress.Loopback]);
        using var client = ClientWith(resolver, allowPrivateNetworks: false);

        var refused = await RefusalOf(client.GetAsync($"http://hooks.example.test:{port}/"));

        Assert.Equal("The webhook host hooks.example.test resolves only to loopback addresses" + PublicOnly, refused.Message);
        Assert.Equal(["hooks.example.test"], resolver.Lookups);
        Assert.False(listener.Pending());
    }

    [Fact]
    public async Task Connection_to_a_name_resolving_to_loopback_arrives_when_private_networks_are_allowed()
    {
        using var listener = StartListener(out var port);
        using var client = ClientWith(new FakeResolver(_ => [IPAddress.Loopback]), allowPrivateNetworks: true);

        var request = AnswerOneRequestAsync(listener);
        using var response = await client.GetAsync($"http://hooks.example.test:{port}/hooks");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        var head = await request;
        Assert.StartsWith("GET /hooks HTTP/1.1\r\n", head);
        Assert.Contains($"\r\nHost: hooks.example.test:{port}\r\n", head);
    }

    [Fact]
    public async Task Connection_skips_refused_addresses_and_goes_to_the_allowed_one()
    {
        using var listener = StartListener(out var port);
        var resolver = new FakeResolver(_ => [IPAddress.Parse("169.254.169.254"), IPAddress.Parse("224.0.0.1"), IPAddress.Loopback]);
        using var client = ClientWith(resolver, allowPrivateNetworks: true);

        var request = AnswerOneRequestAsync(listener);
        using var response = await client.GetAsync($"http://hooks.example.test:{port}/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await request;
    }

    [Fact]
    public async Task Connection_refusal_names_every_refused_category()
    {
        var resolver = new FakeResolver(_ => [IPAddress.Parse("169.254.169.254"), IPAddress.Parse("10.0.0.5"), IPAddress.Parse("10.0.0.6")]);
        using var client = ClientWith(resolver, allowPrivateNetworks: false);

        var refused = await RefusalOf(client.GetAsync("http://hooks.example.test:9/"));

        Assert.Equal("The webhook host hooks.example.test resolves only to link-local and private addresses" + PublicOnly, refused.Message);
    }

    [Fact]
    public async Task Dns_rebinding_after_registration_is_refused_at_connection()
    {
        using var listener = StartListener(out var port);
        var answers = new Queue<IPAddress[]>([[IPAddress.Parse("93.184.216.34")], [IPAddress.Loopback]]);
        var resolver = new FakeResolver(_ => answers.Dequeue());
        var url = $"http://hooks.example.test:{port}/";

        Assert.Empty(await WebhookAddresses.UrlProblemsAsync(url, allowHttp: true, allowPrivateNetworks: false, resolver, CancellationToken.None));
        using var client = ClientWith(resolver, allowPrivateNetworks: false);
        var refused = await RefusalOf(client.GetAsync(url));

        Assert.Contains("loopback", refused.Message);
        Assert.Equal(["hooks.example.test", "hooks.example.test"], resolver.Lookups);
        Assert.False(listener.Pending());
    }

    [Fact]
    public async Task Ip_literal_url_is_checked_at_connection_with_the_dns_resolver()
    {
        using var listener = StartListener(out var port);
        using var refusing = ClientWith(new DnsWebhookNameResolver(), allowPrivateNetworks: false);

        var refused = await RefusalOf(refusing.GetAsync($"http://127.0.0.1:{port}/"));
        Assert.Equal("The webhook host 127.0.0.1 resolves only to loopback addresses" + PublicOnly, refused.Message);
        Assert.False(listener.Pending());

        using var allowing = ClientWith(new DnsWebhookNameResolver(), allowPrivateNetworks: true);
        var request = AnswerOneRequestAsync(listener);
        using var response = await allowing.GetAsync($"http://127.0.0.1:{port}/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await request;
    }

    // Names the URL tests use; any other lookup (an IP literal, say) fails the test.
    private static FakeResolver NamedHosts() => new(host => host switch
    {
        "public.example.test" => [IPAddress.Parse("93.184.216.34"), IPAddress.Parse("2606:4700::1111")],
        "private.example.test" => [IPAddress.Parse("10.0.0.5")],
        "mixed.example.test" => [IPAddress.Parse("93.184.216.34"), IPAddress.Parse("10.0.0.5")],
        "shared.example.test" => [IPAddress.Parse("100.64.0.7")],
        "metadata.example.test" => [IPAddress.Parse("169.254.169.254")],
        "missing.example.test" => throw new SocketException((int)SocketError.HostNotFound),
        "empty.example.test" => [],
        _ => throw new InvalidOperationException($"Unexpected lookup of {host}."),
    });

    private static HttpClient ClientWith(IWebhookNameResolver resolver, bool allowPrivateNetworks) => new(new SocketsHttpHandler
    {
        ConnectCallback = WebhookAddresses.ConnectCallback(resolver, allowPrivateNetworks),
        UseProxy = false,
        AllowAutoRedirect = false,
    })
    { Timeout = TimeSpan.FromSeconds(10) };

    // SocketsHttpHandler wraps what the connect callback throws in an HttpRequestException.
    private static async Task<WebhookAddressRefusedException> RefusalOf(Task<HttpResponseMessage> request)
    {
        var failure = await Record.ExceptionAsync(() => request);
        return Assert.IsType<WebhookAddressRefusedException>(failure as WebhookAddressRefusedException ?? failure?.InnerException);
    }

    private static TcpListener StartListener(out int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        port = ((IPEndPoint)listener.LocalEndpoint).Port;
        return listener;
    }

    // Accepts one connection, reads the request head and answers a minimal 200; returns the head.
    private static async Task<string> AnswerOneRequestAsync(TcpListener listener)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var connection = await listener.AcceptTcpClientAsync(timeout.Token);
        var stream = connection.GetStream();
        var head = new StringBuilder();
        var buffer = new byte[1024];
        while (!head.ToString().Contains("\r\n\r\n"))
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                break;
            }
            head.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray(), timeout.Token);
        return head.ToString();
    }

    private sealed class FakeResolver(Func<string, IPAddress[]> resolve) : IWebhookNameResolver
    {
        public List<string> Lookups { get; } = [];

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            Lookups.Add(host);
            return Task.FromResult(resolve(host));
        }
    }
}
