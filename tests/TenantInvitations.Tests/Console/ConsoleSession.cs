using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing;

namespace TenantInvitations.Tests;

// A console session over HTTP, as a browser keeps one: cookies, no redirects followed, and the antiforgery token of the
// last page read, so each check sees the console's own answer.
public sealed partial class ConsoleSession(HttpClient client) : IDisposable
{
    public const string CookieName = "invitations-console";

    private string? formToken;

    // In process; or, for a service on a real socket (whose limits are Kestrel's), over loopback TCP.
    public static HttpClient Client(TestApp app) => app is BrowserApp socket
        ? new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = new Uri(socket.BaseUrl) }
        : app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true, BaseAddress = app.ClientOptions.BaseAddress });

    public static async Task<ConsoleSession> SignInAsync(TestApp app, string subject, string? email, bool platformAdmin = false)
    {
        var session = new ConsoleSession(Client(app));
        await session.GetAsync("/console/sign-in");
        var signedIn = await session.PostAsync("/console/sign-in",
            [new("Subject", subject), new("Email", email ?? ""), new("PlatformAdmin", platformAdmin ? "true" : "false")]);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.Status);
        return session;
    }

    public static Task<ConsoleSession> OwnerAsync(TestApp app, TenantSetup tenant) => SignInAsync(app, $"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);

    public async Task<ConsoleAnswer> GetAsync(string path)
    {
        using var response = await client.GetAsync(path);
        var answer = await ConsoleAnswer.ReadAsync(response);
        if (FormToken().Match(answer.Body) is { Success: true } token)
        {
            formToken = token.Groups[1].Value;
        }
        return answer;
    }

    // A form post with the token of the page read last (withToken: false leaves it out, as a forged cross-site form would).
    public async Task<ConsoleAnswer> PostAsync(string path, IEnumerable<KeyValuePair<string, string>> fields, bool withToken = true)
    {
        var form = fields.ToList();
        if (withToken && formToken is not null)
        {
            form.Add(new("_antiforgery", formToken));
        }
        using var response = await client.PostAsync(path, new FormUrlEncodedContent(form));
        return await ConsoleAnswer.ReadAsync(response);
    }

    public void Dispose() => client.Dispose();

    [GeneratedRegex("name=\"_antiforgery\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex FormToken();
}

public sealed record ConsoleAnswer(HttpStatusCode Status, string Body, string? Location, string? ContentType, IReadOnlyDictionary<string, string> Headers)
{
    public static async Task<ConsoleAnswer> ReadAsync(HttpResponseMessage response) => new(
        response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.Location?.OriginalString,
        response.Content.Headers.ContentType?.MediaType,
        response.Headers.Concat(response.Content.Headers).ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase));

    public string Heading => Regex.Match(Body, "<h1[^>]*>(.*?)</h1>", RegexOptions.Singleline).Groups[1].Value.Trim();
}
