using System.Globalization;
using System.Net;

namespace TenantInvitations.Tests;

// Real service processes on one database delivering to a real receiver: a node killed (SIGKILL) in the middle of deliveries loses
// none of them; another node takes them over when their lease runs out, and only what was in flight is sent twice.
public sealed class WebhookNodesTests : IAsyncLifetime
{
    private const int Invitations = 20;

    private static readonly string[] Settings =
    [
        "--Webhooks:AllowPrivateNetworks=true", "--Webhooks:AllowHttp=true", "--Webhooks:PollInterval=00:00:00.100",
        "--Webhooks:Timeout=00:00:02", "--Webhooks:LeaseDuration=00:00:04",
    ];

    private readonly ServiceNodes nodes = new("webhook-nodes");
    private WebhookReceiver? receiver;

    [Fact]
    public async Task A_node_killed_mid_delivery_loses_no_delivery_and_only_what_was_in_flight_arrives_twice()
    {
        receiver = await WebhookReceiver.StartAsync();
        var nodeA = await nodes.StartAsync(Settings);
        var a = nodes.Client(nodeA);
        var tenantId = (await SendAsync(a, HttpMethod.Post, "tenant", new { name = "Hooked", ownerEmail = "owner@hooked.test" }))
            .AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        receiver.Respond(WebhookReply.Hold);
        var webhook = (await SendAsync(a, HttpMethod.Post, $"tenant/{tenantId}/admin/webhooks", new { url = receiver.Url, types = new[] { "invitation.created" } }))
            .AssertSuccess(HttpStatusCode.Created);
        var secret = webhook.GetProperty("secret").GetString()!;
        var ids = new List<long>();
        for (var i = 0; i < Invitations; i++)
        {
            var email = $"hooked-{i.ToString(CultureInfo.InvariantCulture)}@hooked.test";
            ids.Add((await SendAsync(a, HttpMethod.Post, $"tenant/{tenantId}/admin/user/invitation", new { email }))
                .AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64());
        }

        // Node A has its share of deliveries to the endpoint in flight (4 at once), held by the receiver, when it dies.
        await receiver.WaitForHeldAsync(TenantInvitations.Webhooks.WebhookOptions.PerEndpoint);
        nodeA.Kill();
        var inFlight = receiver.Received.Select(r => r.Id!).ToHashSet();
        receiver.Respond(WebhookReply.Ok);
        await nodes.StartAsync(Settings);

        await receiver.WaitForAsync(r => r.Where(x => x.Answered?.Status == 200).Select(x => x.Id).Distinct().Count() == Invitations, seconds: 60);
        await Task.Delay(1000); // nothing more comes
        var received = receiver.Received;
        var delivered = received.Where(r => r.Answered?.Status == 200).ToList();
        Assert.Equal(Invitations, delivered.Select(r => r.Id).Distinct().Count());
        Assert.Equal(ids.Order(), delivered.Select(r => r.Body().GetProperty("data").GetProperty("id").GetInt64()).Distinct().Order());
        var twice = received.GroupBy(r => r.Id!).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        Assert.NotEmpty(inFlight);
        Assert.Equal(inFlight.Order(), twice.Order());
        Assert.All(delivered, r => Assert.Equal(Signatures.Verified, Signatures.VerifyWithStandardWebhooks(secret, r)));
    }

    private static Task<ApiResponse> SendAsync(HttpClient client, HttpMethod method, string path, object? body = null) =>
        ServiceNodes.SendAsync(client, method, path, body);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        nodes.Dispose();
        if (receiver is not null)
        {
            await receiver.DisposeAsync();
        }
    }
}
