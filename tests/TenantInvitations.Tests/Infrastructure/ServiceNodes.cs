using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace TenantInvitations.Tests;

// Real service processes on one database of their own (a shared SQLite file, or one PostgreSQL database), with clients that
// call them as a platform admin. Disposing stops the processes and drops the database.
public sealed class ServiceNodes : IDisposable
{
    private readonly string folder;
    private readonly List<ServiceProcess> nodes = [];
    private readonly List<HttpClient> clients = [];

    public ServiceNodes(string name)
    {
        folder = Directory.CreateTempSubdirectory($"ti-{name}-").FullName;
        Database = TestDatabase.Create(folder);
    }

    public TestDatabase Database { get; }

    // Every node started, in order, stopped or not: what they logged stays readable after Dispose.
    public IReadOnlyList<ServiceProcess> Started => nodes;

    // A node with the test signing key and public base URL, fast email polling, and these settings (`--Key=value`).
    public async Task<ServiceProcess> StartAsync(params string[] settings)
    {
        var process = ServiceProcess.Start(folder,
        [
            "--Email:PollInterval=00:00:00.200", $"--Auth:SigningKey={TestApp.SigningKey}", "--App:PublicBaseUrl=https://invitations.example.test",
            .. Database.Arguments, .. settings,
        ]);
        nodes.Add(process);
        await process.WaitUntilReadyAsync();
        return process;
    }

    public HttpClient Client(ServiceProcess process)
    {
        var client = new HttpClient { BaseAddress = process.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token("root", "root@nodes.test", platformAdmin: true));
        clients.Add(client);
        return client;
    }

    // The body as JSON, or as it is when it is HttpContent already.
    public static async Task<ApiResponse> SendAsync(HttpClient client, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body as HttpContent ?? (body is null ? null : JsonContent.Create(body)) };
        using var response = await client.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }

    public void Dispose()
    {
        foreach (var client in clients)
        {
            client.Dispose();
        }
        foreach (var node in nodes)
        {
            node.Dispose();
        }
        Database.Dispose();
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
