using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

// Events delivered to real receivers on loopback, signed as Standard Webhooks says, checked by implementations nobody here wrote.
// The clock is not moved in this class, so the packages' real-clock checks apply.
public sealed class WebhookDeliveryTests(WebhookTestApp app) : IClassFixture<WebhookTestApp>
{
    [Fact]
    public async Task Every_event_is_delivered_once_to_each_endpoint_that_subscribed_signed_and_never_to_another_tenants_endpoint()
    {
        var a = await app.CreateTenantAsync();
        var b = await app.CreateTenantAsync();
        await DatabaseSnapshot.SettledAsync(app); // what is visible now is not for endpoints registered now
        var fromA = (await app.ReadToEndAsync($"/tenant/{a.Id}/admin/events", a.OwnerToken)).Next;
        var fromB = (await app.ReadToEndAsync($"/tenant/{b.Id}/admin/events", b.OwnerToken)).Next;
        await using var all = await WebhookReceiver.StartAsync(app.Transcript);
        await using var some = await WebhookReceiver.StartAsync(app.Transcript);
        await using var other = await WebhookReceiver.StartAsync(app.Transcript);
        var allOfA = await app.CreateWebhookAsync(a, all.Url);
        var someOfA = await app.CreateWebhookAsync(a, some.Url, ["member.added", "invitation.revoked"]);
        var ofB = await app.CreateWebhookAsync(b, other.Url);

        var joining = await app.InviteAsync(a);
        (await app.PostAsync("/invitation/accept", new { token = joining.Token })).AssertSuccess();
        var revoked = await app.InviteAsync(a);
        (await app.PutAsync($"/tenant/{a.Id}/admin/user/invitation/revoke?id={revoked.Id}", a.OwnerToken)).AssertSuccess();
        await app.InviteAsync(b);
        await DatabaseSnapshot.SettledAsync(app);
        var feedOfA = (await app.ReadToEndAsync(fromA, a.OwnerToken)).Events;
        var feedOfB = (await app.ReadToEndAsync(fromB, b.OwnerToken)).Events;

        // invitation.created twice, delivered twice, accepted, member.added, revoked; what was visible before the endpoint is not sent.
        Assert.Equal(7, feedOfA.Count);
        var toAll = await all.WaitForCountAsync(feedOfA.Count);
        var toSome = await some.WaitForCountAsync(2);
        var toOther = await other.WaitForCountAsync(feedOfB.Count);
        await Task.Delay(300); // three more dispatcher rounds: nothing more arrives
        Assert.Equal(feedOfA.Select(e => e.Id.ToString()).Order(), all.Received.Select(r => r.Id!).Order());
        Assert.Equal(feedOfA.Where(e => e.Type is "member.added" or "invitation.revoked").Select(e => e.Id.ToString()).Order(),
            some.Received.Select(r => r.Id!).Order());
        Assert.Equal(feedOfB.Select(e => e.Id.ToString()).Order(), other.Received.Select(r => r.Id!).Order());
        foreach (var (receiver, webhook) in new[] { (all, allOfA), (some, someOfA), (other, ofB) })
        {
            foreach (var request in receiver.Received)
            {
                Assert.Equal((Signatures.Verified, "POST", "application/json; charset=utf-8"),
                    (Signatures.VerifyWithStandardWebhooks(webhook.Secret, request), request.Method, request.Header("Content-Type")));
                var sent = request.Body();
                var same = feedOfA.Concat(feedOfB).Single(e => e.Id.ToString() == request.Id);
                Assert.Equal(same.Id, sent.GetProperty("id").GetInt64());
                Assert.Equal(["actor", "data", "id", "occurredAt", "tenantId", "type"],
                    sent.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
                Feed.AssertSameJson(same.Data, sent.GetProperty("data"));
                Assert.Equal(same.Type, sent.GetProperty("type").GetString());
            }
        }
        var log = await app.DeliveriesAsync(allOfA, a.OwnerToken);
        Assert.Equal(feedOfA.Count, log.Length);
        Assert.All(log, d => Assert.Equal(("Succeeded", 1, (int?)200, (string?)null, (DateTime?)null),
            (d.Status, d.Attempts, d.ResponseStatus, d.Error, d.NextAttemptAt)));
        Assert.Equal(log.OrderByDescending(d => d.CreatedAt).ThenByDescending(d => d.Id).Select(d => d.Id), log.Select(d => d.Id));
    }

    [Fact]
    public async Task A_delivery_is_verified_by_the_standardwebhooks_npm_package_under_node()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        var webhook = await app.CreateWebhookAsync(tenant, receiver.Url, ["invitation.created"]);

        await app.InviteAsync(tenant);

        var request = Assert.Single(await receiver.WaitForCountAsync(1));
        Assert.Equal((0, "verified"), await NodeVerifier.VerifyAsync(webhook.Secret, request));
        Assert.Equal(1, (await NodeVerifier.VerifyAsync(Signatures.NewSecret(), request)).ExitCode);
    }

    [Fact]
    public async Task A_delivery_keeps_the_trace_id_of_the_request_that_caused_its_event()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        var webhook = await app.CreateWebhookAsync(tenant, receiver.Url, ["invitation.created"]);
        var (traceId, headers) = TestApp.Traced();

        (await app.SendAsync(HttpMethod.Post, $"/tenant/{tenant.Id}/admin/user/invitation", tenant.OwnerToken, new { email = Scenarios.UniqueEmail() },
            headers: headers)).AssertSuccess(HttpStatusCode.Created);

        var delivery = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Status == "Succeeded"));
        Assert.Equal(traceId, delivery.TraceId);
    }

    [Fact]
    public async Task A_test_send_goes_to_that_endpoint_only_also_when_it_is_disabled_and_never_into_the_feed()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var tested = await WebhookReceiver.StartAsync(app.Transcript);
        await using var bystander = await WebhookReceiver.StartAsync(app.Transcript);
        var webhook = await app.CreateWebhookAsync(tenant, tested.Url);
        await app.CreateWebhookAsync(tenant, bystander.Url);
        (await app.PutAsync(webhook.Path, tenant.OwnerToken, new { enabled = false })).AssertSuccess();

        var response = await app.PostAsync($"{webhook.Path}/test", null, tenant.OwnerToken);

        var queued = response.AssertSuccess(HttpStatusCode.Accepted).As<DeliveryRow>();
        Assert.Equal(("webhook.test", "Pending", 0), (queued.EventType, queued.Status, queued.Attempts));
        var request = Assert.Single(await tested.WaitForCountAsync(1));
        var body = request.Body();
        var sent = body.As<FeedEvent>();
        Assert.Equal(("webhook.test", (long?)tenant.Id, "{}"), (sent.Type, sent.TenantId, sent.Data.GetRawText()));
        Assert.Equal(queued.EventId.ToString(), request.Id);
        Assert.Equal(Signatures.Verified, Signatures.VerifyWithStandardWebhooks(webhook.Secret, request));
        await DatabaseSnapshot.SettledAsync(app);
        Assert.Empty(bystander.Received);
        Assert.DoesNotContain((await app.ReadToEndAsync($"/tenant/{tenant.Id}/admin/events", tenant.OwnerToken)).Events, e => e.Type == "webhook.test");
    }

    [Fact]
    public async Task A_manual_retry_sends_a_delivery_again_at_once_with_the_same_webhook_id_and_counts_the_attempt()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        var webhook = await app.CreateWebhookAsync(tenant, receiver.Url, ["invitation.created"]);
        await app.InviteAsync(tenant);
        var delivered = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Status == "Succeeded"));

        var retried = (await app.PostAsync($"{webhook.Path}/deliveries/{delivered.Id}/retry", null, tenant.OwnerToken))
            .AssertSuccess(HttpStatusCode.Accepted).As<DeliveryRow>();

        Assert.Equal((delivered.Id, "Retrying", 1), (retried.Id, retried.Status, retried.Attempts));
        var requests = await receiver.WaitForCountAsync(2);
        Assert.Equal(requests[0].Id, requests[1].Id);
        var again = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d[0].Attempts == 2));
        Assert.Equal("Succeeded", again.Status);
        (await app.PostAsync($"{webhook.Path}/deliveries/{delivered.Id + 1_000_000}/retry", null, tenant.OwnerToken))
            .AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.PostAsync($"{webhook.Path}/deliveries/0/retry", null, tenant.OwnerToken)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
    }

    [Fact]
    public async Task A_redirect_is_not_followed_and_is_retried()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var redirecting = await WebhookReceiver.StartAsync(app.Transcript);
        await using var target = await WebhookReceiver.StartAsync(app.Transcript);
        redirecting.Respond(WebhookReply.Redirect(target.Url));
        var webhook = await app.CreateWebhookAsync(tenant, redirecting.Url, ["invitation.created"]);

        await app.InviteAsync(tenant);

        var delivery = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Attempts == 1));
        Assert.Equal(("Retrying", (int?)302), (delivery.Status, delivery.ResponseStatus));
        Assert.Contains("redirect, which is not followed", delivery.Error);
        Assert.Empty(target.Received);
    }

    [Fact]
    public async Task A_receiver_slower_than_the_timeout_fails_the_attempt_and_of_a_large_answer_only_the_first_KiB_is_kept()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var slow = await WebhookReceiver.StartAsync(app.Transcript);
        await using var large = await WebhookReceiver.StartAsync(app.Transcript);
        slow.Respond(WebhookReply.Slow(TimeSpan.FromSeconds(10)));
        large.Respond(WebhookReply.LargeBody());
        var toSlow = await app.CreateWebhookAsync(tenant, slow.Url, ["invitation.created"]);
        var toLarge = await app.CreateWebhookAsync(tenant, large.Url, ["invitation.created"]);

        await app.InviteAsync(tenant);

        var timedOut = Assert.Single(await app.WaitForDeliveriesAsync(toSlow, tenant.OwnerToken, d => d.Length == 1 && d[0].Attempts == 1));
        Assert.Equal(("Retrying", (int?)null, "No answer within 2 s."), (timedOut.Status, timedOut.ResponseStatus, timedOut.Error));
        Assert.InRange(timedOut.DurationMs!.Value, 1900, 9000);
        var read = Assert.Single(await app.WaitForDeliveriesAsync(toLarge, tenant.OwnerToken, d => d.Length == 1 && d[0].Status == "Succeeded"));
        Assert.Equal(1024, read.ResponseBody!.Length);
    }

    [Fact]
    public async Task Of_an_endless_answer_only_64_KiB_are_read_so_the_attempt_succeeds_within_the_timeout()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var endless = await WebhookReceiver.StartAsync(app.Transcript);
        endless.Respond(WebhookReply.EndlessBody);
        var webhook = await app.CreateWebhookAsync(tenant, endless.Url, ["invitation.created"]);

        await app.InviteAsync(tenant);

        // Reading it all would take until the 2 s timeout, and fail.
        var read = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Attempts == 1));
        Assert.Equal(("Succeeded", (int?)200, 1024), (read.Status, read.ResponseStatus, read.ResponseBody!.Length));
        Assert.Equal(new string('y', 1024), read.ResponseBody);
    }

    [Fact]
    public async Task Deleting_an_endpoint_drops_its_deliveries_that_wait()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var failing = await WebhookReceiver.StartAsync(app.Transcript);
        failing.Respond(WebhookReply.WithStatus(500));
        var webhook = await app.CreateWebhookAsync(tenant, failing.Url, ["invitation.created"]);
        await app.InviteAsync(tenant);
        await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Status == "Retrying");

        (await app.DeleteAsync(webhook.Path, tenant.OwnerToken)).AssertSuccess();

        Assert.False(await app.QueryAsync(db => db.WebhookDeliveries.IgnoreQueryFilters().AnyAsync(d => d.EndpointId == webhook.Id)));
        (await app.GetAsync($"{webhook.Path}/deliveries", tenant.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task A_410_disables_the_endpoint_saying_why_and_gives_up_its_deliveries()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        receiver.Respond(WebhookReply.WithStatus(410));
        var webhook = await app.CreateWebhookAsync(tenant, receiver.Url, ["invitation.created"]);

        await app.InviteAsync(tenant);

        var gone = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Status == "Failed"));
        Assert.Equal(((int?)410, 1, (DateTime?)null), (gone.ResponseStatus, gone.Attempts, gone.NextAttemptAt));
        var model = (await app.GetAsync(webhook.Path, tenant.OwnerToken)).AssertSuccess();
        Assert.Equal((false, "The endpoint answered 410 Gone."), (model.GetProperty("enabled").GetBoolean(), model.GetProperty("disabledReason").GetString()));
        Assert.Equal(JsonValueKind.String, model.GetProperty("disabledAt").ValueKind);
        await app.InviteAsync(tenant);
        await DatabaseSnapshot.SettledAsync(app);
        Assert.Single(receiver.Received); // a disabled endpoint gets no new deliveries
        Assert.Single(await app.DeliveriesAsync(webhook, tenant.OwnerToken));
    }
}
