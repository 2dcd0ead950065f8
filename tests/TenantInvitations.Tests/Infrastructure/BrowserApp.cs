using System.Net;
using System.Net.Sockets;
using OpenQA.Selenium.Chrome;

namespace TenantInvitations.Tests;

// The service on a real Kestrel socket (so a browser can reach it), emailing through the loopback SMTP server,
// with links pointing at that socket.
public sealed class BrowserApp : SmtpTestApp
{
    private readonly int port = FreePort();
    private readonly string profile = Directory.CreateTempSubdirectory("ti-chromium-").FullName;

    public BrowserApp()
    {
        UseKestrel(port);
        ClientOptions.BaseAddress = new Uri(BaseUrl);
        StartServer();
        Browser = Chromium.Start(profile);
    }

    public string BaseUrl => $"http://127.0.0.1:{port}";
    public ChromeDriver Browser { get; }

    // Loopback webhook receivers are allowed, so the console's webhook pages can deliver to one.
    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
        [.. base.Settings(), new("App:PublicBaseUrl", BaseUrl), new("Webhooks:AllowPrivateNetworks", "true")];

    public override async ValueTask DisposeAsync()
    {
        Browser.Quit();
        await base.DisposeAsync();
        Directory.Delete(profile, recursive: true);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

// Debian's Chromium and ChromeDriver (scripts/test.sh installs them); nothing is downloaded.
public static class Chromium
{
    public static ChromeDriver Start(string profile, bool javaScript = true)
    {
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1000,900",
            $"--user-data-dir={profile}");
        if (!javaScript)
        {
            options.AddUserProfilePreference("profile.managed_default_content_settings.javascript", 2);
        }
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }
}

