using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;
using OpenQA.Selenium;

namespace TenantInvitations.Tests;

// The console's sign-in through a real OpenID Connect server (OpenIddict, in the test process) in headless Chromium: the code
// flow with PKCE, the redirect URI from App:PublicBaseUrl whatever Host a request names, the provider's claims read by the
// API's rules, and sign-out at the provider too. These run once (on SQLite).
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed partial class ConsoleOidcTests(OidcConsoleApp app) : IClassFixture<OidcConsoleApp>
{
    private string CallbackUri => $"{app.BaseUrl}/console/signin-oidc";

    [Fact]
    public async Task A_signed_out_visitor_signs_in_at_the_provider_with_PKCE_comes_back_to_the_page_and_signs_out_there_too()
    {
        var tenantId = await CreateTenantAsync("Provider Co");
        var console = FreshConsole();
        app.Provider.User = new ProviderUser("oidc|console-admin", "admin@idp.test", PlatformAdmin: true);

        console.Open($"/console/tenants/{tenantId}/invitations");
        console.Wait(() => console.Heading == "Sign in");
        Assert.StartsWith("/console/sign-in?ReturnUrl=", console.Path);
        Assert.Empty(console.Driver.FindElements(By.Id("subject"))); // Console:DevSignIn=false: no dev form
        Assert.DoesNotContain("Dev sign-in", console.Main);
        app.Provider.AuthorizationRequests.Clear();
        console.Press("Sign in with your identity provider");

        console.Wait(() => console.Heading == "Invitations");
        Assert.Equal($"/console/tenants/{tenantId}/invitations", console.Path);
        Assert.Equal("admin@idp.test (platform admin)", Who(console));
        var authorize = Assert.Single(app.Provider.AuthorizationRequests);
        Assert.Equal("S256", authorize["code_challenge_method"]);
        Assert.Matches("^[A-Za-z0-9_-]{43}$", authorize["code_challenge"]);
        Assert.Equal(("code", OpenIddictProvider.ConsoleClientId, CallbackUri),
            (authorize["response_type"], authorize["client_id"], authorize["redirect_uri"]));
        Assert.Equal(["email", "openid", "profile"], authorize["scope"].Split(' ').Order());
        Assert.False(authorize.ContainsKey("response_mode"), "the code comes back in the query, the default for the code flow");

        app.Provider.EndSessionRequests.Clear();
        console.SignOut();
        Assert.Equal("/console/sign-in", console.Path);
        var endSession = Assert.Single(app.Provider.EndSessionRequests);
        Assert.Equal($"{app.BaseUrl}/console/signout-callback-oidc", endSession["post_logout_redirect_uri"]);
        Assert.False(string.IsNullOrEmpty(endSession["id_token_hint"]));
        console.Open($"/console/tenants/{tenantId}/invitations");
        console.Wait(() => console.Heading == "Sign in");
    }

    [Fact]
    public async Task A_challenge_with_a_spoofed_Host_still_sends_the_redirect_uri_of_App_PublicBaseUrl()
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() };
        using var client = new HttpClient(handler) { BaseAddress = new Uri(app.BaseUrl) };
        var page = await client.GetStringAsync("/console/sign-in?ReturnUrl=%2Fconsole");
        var antiforgery = AntiforgeryField().Match(page).Groups[1].Value;
        Assert.NotEmpty(antiforgery);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/console/sign-in?handler=Provider")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["_antiforgery"] = antiforgery, ["ReturnUrl"] = "/console" }),
        };
        request.Headers.Host = "evil.example";

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith(app.Provider.AuthorizationEndpoint + "?", location.ToString());
        var query = QueryHelpers.ParseQuery(location.Query);
        Assert.Equal(CallbackUri, query["redirect_uri"].ToString());
        Assert.Equal("S256", query["code_challenge_method"].ToString());
        Assert.DoesNotContain("evil.example", location.ToString());
    }

    [Fact]
    public async Task An_email_the_provider_says_is_not_verified_signs_in_but_does_not_make_its_owner_an_Owner()
    {
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var tenantId = await CreateTenantAsync("Unverified Co", ownerEmail);
        // Accepted through the link alone: the Owner is then matched by a verified email only.
        var link = Mailbox.TokenFrom(Assert.Single(await app.Smtp.WaitForAsync(ownerEmail)));
        (await app.PostAsync("/invitation/accept", new { token = link })).AssertSuccess();
        var console = FreshConsole();

        app.Provider.User = new ProviderUser($"oidc|{Guid.NewGuid():N}", ownerEmail, EmailVerified: false);
        SignInAtTheProvider(console);
        Assert.Equal(ownerEmail, Who(console));
        console.Open($"/console/tenants/{tenantId}/invitations");
        Assert.Equal("Not found", console.Heading); // not a member by that email: to an outsider the tenant is not there
        Assert.Contains("The tenant was not found.", console.Main);
        console.SignOut();

        app.Provider.User = new ProviderUser($"oidc|{Guid.NewGuid():N}", ownerEmail);
        SignInAtTheProvider(console);
        console.Open($"/console/tenants/{tenantId}/invitations");
        Assert.Equal("Invitations", console.Heading);
        console.SignOut();
    }

    [Fact]
    public void Claims_the_API_would_refuse_are_refused_with_a_message_on_the_sign_in_page()
    {
        var console = FreshConsole();
        app.Provider.User = new ProviderUser("oidc|bell\u0007", "bell@idp.test");

        console.Open("/console/sign-in");
        console.Press("Sign in with your identity provider");

        console.Wait(() => console.Notice?.Contains("Signing in with your identity provider did not work.", StringComparison.Ordinal) == true);
        Assert.Equal("Sign in", console.Heading);
        Assert.Empty(console.Driver.FindElements(By.CssSelector(".who")));
    }

    private ConsoleBrowser FreshConsole()
    {
        var console = new ConsoleBrowser(app.Browser, app.BaseUrl);
        console.Open("/console/sign-in");
        app.Browser.Manage().Cookies.DeleteAllCookies();
        return console;
    }

    private static void SignInAtTheProvider(ConsoleBrowser console)
    {
        console.Open("/console/sign-in");
        console.Press("Sign in with your identity provider");
        console.Wait(() => console.Heading == "Tenants");
    }

    private static string Who(ConsoleBrowser console) => console.Driver.FindElement(By.CssSelector(".who")).Text;

    // The API takes the same provider's access tokens: a platform admin creates the tenant, as a client would.
    private async Task<long> CreateTenantAsync(string name, string? ownerEmail = null)
    {
        var token = await app.Provider.PlatformAdminTokenAsync();
        var created = await app.PostAsync("/tenant", new { name, ownerEmail = ownerEmail ?? Scenarios.UniqueEmail("owner") }, token);
        return created.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
    }

    [GeneratedRegex("name=\"_antiforgery\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
