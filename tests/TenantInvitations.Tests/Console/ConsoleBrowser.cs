using Deque.AxeCore.Commons;
using Newtonsoft.Json.Linq;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace TenantInvitations.Tests;

// Drives the console in Chromium as a person would: by the labels and button texts API.md names.
public sealed class ConsoleBrowser(ChromeDriver driver, string baseUrl)
{
    private static readonly string AxeScript = new BundledAxeScriptProvider().GetScript();

    public ChromeDriver Driver => driver;

    public void Open(string path) => driver.Navigate().GoToUrl(baseUrl + path);

    public string Path => new Uri(driver.Url).PathAndQuery;

    public string Heading => driver.FindElement(By.TagName("h1")).Text;

    public string Main => driver.FindElement(By.TagName("main")).Text;

    public void SignIn(string subject, string? email, bool platformAdmin = false)
    {
        Open("/console/sign-in");
        Field("Subject").SendKeys(subject);
        if (email is not null)
        {
            Field("Email").SendKeys(email);
        }
        if (platformAdmin)
        {
            Field("Platform admin").Click();
        }
        Press("Sign in");
        Wait(() => Heading != "Sign in");
    }

    public void SignOut()
    {
        Press("Sign out");
        Wait(() => Heading == "Sign in");
    }

    // The control a <label> names: by its for attribute, or the control inside it.
    public IWebElement Field(string label)
    {
        var element = driver.FindElements(By.TagName("label")).First(l => l.Text.Trim() == label);
        var id = element.GetAttribute("for");
        return string.IsNullOrEmpty(id) ? element.FindElement(By.CssSelector("input, select, textarea")) : driver.FindElement(By.Id(id));
    }

    public void Fill(string label, string value)
    {
        var field = Field(label);
        field.Clear();
        field.SendKeys(value);
    }

    public IWebElement Button(string text, IWebElement? within = null) =>
        ((ISearchContext?)within ?? driver).FindElements(By.TagName("button")).First(b => b.Text.Trim() == text);

    public void Press(string text, IWebElement? within = null) => Button(text, within).Click();

    public IWebElement Row(string text) =>
        driver.FindElements(By.CssSelector("tbody tr")).First(r => r.Text.Contains(text, StringComparison.Ordinal));

    public string? Notice => driver.FindElements(By.CssSelector(".notice")).Select(n => n.Text).FirstOrDefault();

    public void Wait(Func<bool> condition, int seconds = 15)
    {
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(seconds));
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException), typeof(NoSuchElementException), typeof(UnknownErrorException),
            typeof(InvalidOperationException));
        wait.Until(_ => condition());
    }

    // Reloads until the page shows what a background worker (the email dispatcher) did.
    public void ReloadUntil(Func<bool> condition, int seconds = 20) => Wait(() =>
    {
        driver.Navigate().Refresh();
        return condition();
    }, seconds);

    // axe-core 4.14 (injected through Selenium, as Deque.AxeCore.Commons carries it): no serious or critical violation.
    public void AssertAccessible(string page)
    {
        driver.ExecuteScript(AxeScript);
        var json = (string?)driver.ExecuteAsyncScript(
            "const done = arguments[arguments.length - 1]; axe.run(document).then(r => done(JSON.stringify(r)), e => done(JSON.stringify({ error: String(e) })));");
        var raw = JObject.Parse(json ?? "{\"error\":\"no answer\"}");
        Assert.True(raw["error"] is null, $"axe failed on {page}: {raw["error"]}");
        var result = new AxeResult(raw);
        Assert.True(result.Passes.Length > 0, $"axe checked nothing on {page}.");
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical")
            .Select(v => $"{v.Impact} {v.Id}: {v.Help} at {string.Join(", ", v.Nodes.Select(n => n.Target?.ToString()))}").ToList();
        Assert.True(serious.Count == 0, $"{page}: {string.Join("\n", serious)}");
    }

    // docs/console/{name}.png, which README and docs/console.md show.
    public void Screenshot(string name)
    {
        var folder = System.IO.Path.Combine(Repository.Root, "docs", "console");
        Directory.CreateDirectory(folder);
        driver.GetScreenshot().SaveAsFile(System.IO.Path.Combine(folder, $"{name}.png"));
    }
}
