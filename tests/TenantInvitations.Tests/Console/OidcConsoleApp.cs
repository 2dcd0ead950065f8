using System.Net;
using System.Net.Sockets;
using OpenQA.Selenium.Chrome;

namespace TenantInvitations.Tests;

// The service on a real Kestrel socket with the console signing in through the OpenIddict provider (and the API taking that
// provider's tokens), the dev sign-in off, and headless Chromium to drive it.
public sealed class OidcConsoleApp : SmtpTestApp
{
    private readonly int port = FreePort();
    private readonly string profile = Directory.CreateTempSubdirectory("ti-chromium-").FullName;

    public OidcConsoleApp()
    {
        Provider = new OpenIddictProvider(BaseUrl);
        UseKestrel(port);
        ClientOptions.BaseAddress = new Uri(BaseUrl);
        StartServer();
        Browser = Chromium.Start(profile);
    }

    public string BaseUrl => $"http://127.0.0.1:{port}";
    public OpenIddictProvider Provider { get; }
    public ChromeDriver Browser { get; }

    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
    [
        .. base.Settings(),
        new("App:PublicBaseUrl", BaseUrl),
        new("Auth:Authority", Provider.Issuer),
        new("Auth:Audience", OpenIddictProvider.Audience),
        new("Auth:RequireHttpsMetadata", "false"),
        new("Console:ClientId", OpenIddictProvider.ConsoleClientId),
        new("Console:ClientSecret", OpenIddictProvider.ConsoleClientSecret),
        new("Console:DevSignIn", "false"),
    ];

    public override async ValueTask DisposeAsync()
    {
        Browser.Quit();
        try
        {
            await base.DisposeAsync();
        }
        finally
        {
            await Provider.DisposeAsync();
            Directory.Delete(profile, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
