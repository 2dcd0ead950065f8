using System.Diagnostics;

namespace TenantInvitations.Tests.Clients;

// The committed clients are what the served document generates: clients/generate.sh --check starts this build of the service
// (fixed App:PublicBaseUrl), takes its document, runs Kiota and openapi-typescript into a temporary folder and fails on any
// difference from clients/openapi.json, the C# Generated folder or schema.ts. A change to the API without regenerating fails here.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class GeneratedClientsTests
{
    [Fact]
    public async Task The_committed_document_and_both_clients_are_what_the_service_generates()
    {
        var info = new ProcessStartInfo("bash") { WorkingDirectory = Repository.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(Repository.Root, "clients", "generate.sh"));
        info.ArgumentList.Add("--check");
        info.Environment["SERVICE_DLL"] = typeof(Program).Assembly.Location;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true); // the script and the service it started
            Assert.Fail($"clients/generate.sh --check did not finish within 5 minutes:\n{await stdout}\n{await stderr}");
        }

        Assert.True(process.ExitCode == 0, $"clients/generate.sh --check exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
        Assert.Contains("both generated clients match the service", await stdout);
    }
}
