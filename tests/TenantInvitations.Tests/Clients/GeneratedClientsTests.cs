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
        var result = await ExternalCommand.RunAsync("bash", [Path.Combine(Repository.Root, "clients", "generate.sh"), "--check"], Repository.Root,
            new Dictionary<string, string> { ["SERVICE_DLL"] = typeof(Program).Assembly.Location }, TimeSpan.FromMinutes(5));

        Assert.True(result.Exit == 0, $"clients/generate.sh --check exited with {result.Exit}:\n{result.All}");
        Assert.Contains("both generated clients match the service", result.Output);
    }
}
