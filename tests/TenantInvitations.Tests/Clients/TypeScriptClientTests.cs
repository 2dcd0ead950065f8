using System.Text.Json;
using System.Text.RegularExpressions;

namespace TenantInvitations.Tests.Clients;

// The TypeScript client (clients/typescript): built by its own tsc, its node tests run against a real service process,
// its types checked by a program that must compile, and packed by npm as users install it.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class TypeScriptClientTests(ClientServiceFixture service) : IClassFixture<ClientServiceFixture>, IDisposable
{
    // The tests in clients/typescript/test/*.test.mjs; a run that passes fewer has lost some.
    private const int NodeTests = 16;

    private static readonly string Package = Path.Combine(Repository.Root, "clients", "typescript");
    private readonly string folder = Directory.CreateTempSubdirectory("ti-ts-client-").FullName;

    [Fact]
    public async Task Node_tests_of_the_built_client_pass_against_a_running_service()
    {
        var build = await RunAsync("node", [Tsc, "-p", "tsconfig.json"]);
        Assert.True(build.Exit == 0, $"tsc -p clients/typescript failed:\n{build.All}");

        var files = Directory.GetFiles(Path.Combine(Package, "test"), "*.test.mjs").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        var environment = new Dictionary<string, string>
        {
            ["TI_BASE_URL"] = service.BaseUrl.TrimEnd('/'),
            ["TI_ADMIN_TOKEN"] = service.AdminToken,
            ["TI_ADMIN_SUBJECT"] = ClientServiceFixture.AdminSubject,
            ["TI_ADMIN_EMAIL"] = ClientServiceFixture.AdminEmail,
            ["TI_MAIL_DIR"] = service.MailFolder,
            ["TI_RESEND_COOLDOWN_SECONDS"] = ClientServiceFixture.ResendCooldown.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var run = await RunAsync("node", ["--test", "--test-reporter=tap", "--test-timeout=60000", .. files], environment, TimeSpan.FromMinutes(4));
        // The token is a credential: whatever node printed, it is not shown.
        var output = run.All.Replace(service.AdminToken, "[admin token]", StringComparison.Ordinal);

        Assert.True(run.Exit == 0, $"node --test exited with {run.Exit}:\n{output}");
        Assert.True(Count(output, "pass") >= NodeTests, $"Expected at least {NodeTests} passing node tests:\n{output}");
        Assert.True(Count(output, "fail") == 0, output);
    }

    [Fact]
    public async Task Types_accept_an_invitation_with_only_an_email_and_refuse_null_and_missing_required_fields()
    {
        // test/types/usage.ts compiles only if each `// @ts-expect-error` line is an error under the package's strict flags.
        var check = await RunAsync("node", [Tsc, "-p", Path.Combine("test", "types", "tsconfig.json")]);
        Assert.True(check.Exit == 0, $"tsc -p clients/typescript/test/types failed:\n{check.All}");
        var usage = await File.ReadAllTextAsync(Path.Combine(Package, "test", "types", "usage.ts"));
        Assert.Contains("// @ts-expect-error a tenant's name is a string, never null", usage);
        Assert.Contains("// @ts-expect-error ownerEmail is required", usage);
        Assert.Contains("body: { email: \"someone@example.com\" }", usage);
    }

    [Fact]
    public async Task Npm_pack_builds_a_tarball_with_the_compiled_module_and_its_declarations()
    {
        // A real pack: its prepack script runs tsc, as it does when the package is published.
        var pack = await RunAsync("npm", ["pack", "--json", "--pack-destination", folder]);
        Assert.True(pack.Exit == 0, $"npm pack failed:\n{pack.All}");
        var result = JsonDocument.Parse(pack.Output).RootElement[0];
        Assert.Equal("tenant-invitations-client-1.0.0.tgz", result.GetProperty("filename").GetString());
        Assert.True(File.Exists(Path.Combine(folder, "tenant-invitations-client-1.0.0.tgz")));
        var files = result.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()!).ToHashSet();
        Assert.Subset(files, new HashSet<string> { "package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/schema.js", "dist/schema.d.ts" });
        Assert.DoesNotContain(files, f => f.StartsWith("test/", StringComparison.Ordinal) || f.StartsWith("node_modules/", StringComparison.Ordinal));
    }

    private static string Tsc
    {
        get
        {
            var tsc = Path.Combine(Package, "node_modules", "typescript", "bin", "tsc");
            return File.Exists(tsc)
                ? tsc
                : throw new InvalidOperationException($"{tsc} is missing: run npm ci --prefix clients/typescript (scripts/test.sh does).");
        }
    }

    // TAP's summary: "# pass 12", "# fail 0".
    private static int Count(string tap, string what)
    {
        var match = Regex.Match(tap, $@"^# {what} (\d+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"No '# {what}' line in node's output:\n{tap}");
        return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Task<ExternalCommand.Result> RunAsync(string program, string[] args, Dictionary<string, string>? environment = null,
        TimeSpan? timeout = null) =>
        ExternalCommand.RunAsync(program, args, Package,
            new Dictionary<string, string>(environment ?? []) { ["npm_config_update_notifier"] = "false" }, timeout);

    public void Dispose()
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // a process still shutting down; the temp folder is cleaned later
        }
    }
}
