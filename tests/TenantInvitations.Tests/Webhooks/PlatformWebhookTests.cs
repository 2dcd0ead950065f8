using System.Net;
using System.Text.Json;

namespace TenantInvitations.Tests;

// A platform endpoint receives every tenant's events; its test event has no tenant. Its own fixture: it would receive every other test's events.
public sealed class PlatformWebhookTests(WebhookTestApp app) : IClassFixture<WebhookTestApp>
{
    [Fact]
    public async Task A_platform_endpoint_receives_the_events_of_every_tenant_and_a_tenant_endpoint_only_its_own()
    {
        await using var platform = await WebhookReceiver.StartAsync(app.Transcript);
        await using var ofA = await WebhookReceiver.StartAsync(app.Transcript);
        var everything = await app.CreateWebhookAsync(null, platform.Url, ["invitation.created"]);
        var a = await app.CreateTenantAsync();
        var b = await app.CreateTenantAsync();
        await DatabaseSnapshot.SettledAsync(app);
        var tenantWebhook = await app.CreateWebhookAsync(a, ofA.Url, ["invitation.created"]);

        var inA = await app.InviteAsync(a);
        var inB = await app.InviteAsync(b);

        var received = await platform.WaitForCountAsync(4); // the two Owners' invitations, then one in each tenant
        await DatabaseSnapshot.SettledAsync(app);
        Assert.Equal(4, platform.Received.Length);
        Assert.Equal([a.Id, a.Id, b.Id, b.Id], received.Select(r => r.Body().GetProperty("tenantId").GetInt64()).Order());
        Assert.Contains(received, r => r.Body().GetProperty("data").GetProperty("id").GetInt64() == inB.Id);
        Assert.All(received, r => Assert.Equal(Signatures.Verified, Signatures.VerifyWithStandardWebhooks(everything.Secret, r)));
        var own = Assert.Single(ofA.Received);
        Assert.Equal(inA.Id, own.Body().GetProperty("data").GetProperty("id").GetInt64());
        Assert.Equal(Signatures.Verified, Signatures.VerifyWithStandardWebhooks(tenantWebhook.Secret, own));
        Assert.Equal(4, (await app.DeliveriesAsync(everything, app.PlatformAdminToken)).Count(d => d.Status == "Succeeded"));
    }

    [Fact]
    public async Task A_platform_endpoints_test_event_has_no_tenant()
    {
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        var webhook = await app.CreateWebhookAsync(null, receiver.Url, ["member.removed"]);

        (await app.PostAsync($"{webhook.Path}/test", null, app.PlatformAdminToken)).AssertSuccess(HttpStatusCode.Accepted);

        var request = Assert.Single(await receiver.WaitForCountAsync(1));
        Assert.Equal(("webhook.test", JsonValueKind.Null), (request.Type(), request.Body().GetProperty("tenantId").ValueKind));
        Assert.Equal(("platform-root", true), (request.Body().GetProperty("actor").GetProperty("subject").GetString(),
            request.Body().GetProperty("actor").GetProperty("isPlatformAdmin").GetBoolean()));
    }
}
