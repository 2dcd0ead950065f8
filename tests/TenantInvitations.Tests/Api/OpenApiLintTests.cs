using System.Text.Json;

namespace TenantInvitations.Tests;

// The served document, linted by the tools integrators use: Redocly's recommended rules and Spectral's spectral:oas, both
// from npm (tests/openapi-lint, installed by scripts/test.sh with its lock file). No error from either; each warning kept is
// named here with the reason it stays.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class OpenApiLintTests(TestApp app) : IClassFixture<TestApp>
{
    private static readonly string Folder = Path.Combine(Repository.Root, "tests", "openapi-lint");

    // Redocly: list, get and cancel of imports sit beside invitation/{id}/email and /history, the same shape of path with a
    // literal segment ("import") where the others have an id; routing tells them apart (an id is a number), a reader can too.
    private static readonly Dictionary<string, string> RedoclyWarnings = new()
    {
        ["no-ambiguous-paths"] = "…/invitation/import/{importId} and …/invitation/{id}/email: a literal segment beside an id",
        ["info-license"] = "the project has no license yet: it is the owners' decision, not the document's",
    };

    // Spectral: the same missing license and contact, the owners' to choose.
    private static readonly Dictionary<string, string> SpectralWarnings = new()
    {
        ["info-contact"] = "no contact yet: the owners' to choose, with the license",
    };

    private async Task<string> DocumentFileAsync()
    {
        using var client = app.CreateClient();
        var document = await client.GetStringAsync("/openapi/v1.json");
        var path = Path.Combine(app.Folder, "openapi.json");
        Directory.CreateDirectory(app.Folder);
        await File.WriteAllTextAsync(path, document);
        return path;
    }

    [Fact]
    public async Task Redocly_recommended_finds_no_error_and_only_the_warnings_explained()
    {
        var (exit, output) = await RunAsync("redocly", "lint", "--format=json", "--config", Path.Combine(Folder, "redocly.yaml"), await DocumentFileAsync());

        var problems = JsonDocument.Parse(output).RootElement.GetProperty("problems").EnumerateArray()
            .Select(p => (Rule: p.GetProperty("ruleId").GetString()!, Severity: p.GetProperty("severity").GetString()!,
                Where: string.Join(", ", p.GetProperty("location").EnumerateArray().Select(l => l.GetProperty("pointer").GetString())),
                Message: p.GetProperty("message").GetString()!)).ToList();
        Assert.True(problems.All(p => p.Severity != "error"), string.Join("\n", problems.Where(p => p.Severity == "error").Select(p => $"{p.Rule} at {p.Where}: {p.Message}")));
        Assert.Equal(0, exit);
        var unexplained = problems.Where(p => !RedoclyWarnings.ContainsKey(p.Rule)).Select(p => $"{p.Severity} {p.Rule} at {p.Where}: {p.Message}").ToList();
        Assert.True(unexplained.Count == 0, string.Join("\n", unexplained));
    }

    [Fact]
    public async Task Spectral_oas_finds_no_error_and_only_the_warnings_explained()
    {
        var file = await DocumentFileAsync();
        var report = Path.Combine(app.Folder, "spectral.json");
        var (exit, output) = await RunAsync("spectral", "lint", file, "--ruleset", Path.Combine(Folder, ".spectral.yaml"), "--format", "json", "--output", report,
            "--fail-severity", "error");

        Assert.True(File.Exists(report), output);
        var problems = JsonDocument.Parse(await File.ReadAllTextAsync(report)).RootElement.EnumerateArray()
            .Select(p => (Rule: p.GetProperty("code").GetString()!, Severity: p.GetProperty("severity").GetInt32(),
                Where: string.Join(".", p.GetProperty("path").EnumerateArray().Select(s => s.ToString())), Message: p.GetProperty("message").GetString()!)).ToList();
        // Spectral's severities: 0 error, 1 warning, 2 information, 3 hint.
        Assert.True(problems.All(p => p.Severity != 0), string.Join("\n", problems.Where(p => p.Severity == 0).Select(p => $"{p.Rule} at {p.Where}: {p.Message}")));
        Assert.Equal(0, exit);
        var unexplained = problems.Where(p => p.Severity <= 1 && !SpectralWarnings.ContainsKey(p.Rule)).Select(p => $"{p.Rule} at {p.Where}: {p.Message}").ToList();
        Assert.True(unexplained.Count == 0, string.Join("\n", unexplained));
    }

    private static async Task<(int Exit, string Output)> RunAsync(string tool, params string[] args)
    {
        var executable = Path.Combine(Folder, "node_modules", ".bin", tool);
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException($"{executable} is missing: run npm ci --prefix tests/openapi-lint (scripts/test.sh does).");
        }
        var result = await ExternalCommand.RunAsync(executable, args, Folder,
            new Dictionary<string, string> { ["REDOCLY_TELEMETRY"] = "off", ["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true" });
        return (result.Exit, result.Exit == 0 ? result.Output : result.All);
    }
}
