using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace TenantInvitations.Tests;

// The webhook tests' own parts, through real HTTP: the receiver's behaviours as a sender sees them, and signatures checked
// by the two Standard Webhooks packages nobody here wrote.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class WebhookReceiverTests : IDisposable
{
    private const string Body = """{"id":"7f3c","type":"invitation.created","data":{"tenantId":"t-1"}}""";

    private readonly HttpClient client = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose() => client.Dispose();

    [Fact]
    public async Task Receiver_records_the_request_and_answers_200_by_default()
    {
        var transcript = new Transcript();
        await using var receiver = await WebhookReceiver.StartAsync(transcript);
        Assert.Equal($"http://127.0.0.1:{receiver.Port}/hooks", receiver.Url);

        var before = DateTimeOffset.UtcNow;
        using var response = await PostAsync(receiver.Url + "?attempt=1", Body, Signatures.Headers("msg_1", before, Body, Signatures.NewSecret()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = Assert.Single(await receiver.WaitForCountAsync(1));
        Assert.Equal(1, request.Number);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/hooks", request.Path);
        Assert.Equal("?attempt=1", request.Query);
        Assert.Equal(Body, request.Body);
        Assert.Equal("msg_1", request.Id);
        Assert.Equal(request.Id, request.Header("WEBHOOK-ID"));
        Assert.Equal(before.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), request.Timestamp);
        Assert.StartsWith("v1,", request.Signature);
        Assert.Equal("application/json; charset=utf-8", request.Header("content-type"));
        Assert.InRange(request.ArrivedAt, before, DateTimeOffset.UtcNow);
        Assert.Equal(WebhookReply.Ok, request.Reply);
        Assert.Equal(WebhookReply.Ok, request.Answered);
        Assert.False(request.Aborted);
        var (where, text) = Assert.Single(transcript.Entries);
        Assert.Equal("webhook request POST /hooks", where);
        Assert.Contains("webhook-id: msg_1\n", text);
        Assert.EndsWith("\n\n" + Body, text);
    }

    [Fact]
    public async Task Receiver_answers_the_status_and_Retry_After_it_is_told_to()
    {
        await using var receiver = await WebhookReceiver.StartAsync();

        foreach (var status in new[] { 500, 503, 410, 400 })
        {
            receiver.Respond(WebhookReply.WithStatus(status));
            using var response = await PostAsync(receiver.Url, Body);
            Assert.Equal(status, (int)response.StatusCode);
            Assert.Null(response.Headers.RetryAfter);
        }
        receiver.Respond(WebhookReply.RetryAfter(503, seconds: 120));
        using (var response = await PostAsync(receiver.Url, Body))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(120), response.Headers.RetryAfter?.Delta);
        }

        var received = await receiver.WaitForCountAsync(5);
        Assert.Equal([500, 503, 410, 400, 503], received.Select(r => r.Answered!.Status));
        Assert.Equal(120, received[^1].Answered!.RetryAfterSeconds);
    }

    [Fact]
    public async Task Receiver_chooses_each_reply_by_the_request_when_given_a_function()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond(r => r.Number <= 2 ? WebhookReply.WithStatus(500) : WebhookReply.Ok);

        var statuses = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await PostAsync(receiver.Url, Body);
            statuses.Add((int)response.StatusCode);
        }

        Assert.Equal([500, 500, 200, 200], statuses);
    }

    [Fact]
    public async Task Redirect_answers_302_with_Location_and_is_not_followed_by_the_receiver()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var elsewhere = await WebhookReceiver.StartAsync();
        receiver.Respond(WebhookReply.Redirect(elsewhere.Url));

        using var response = await PostAsync(receiver.Url, Body);

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(new Uri(elsewhere.Url), response.Headers.Location);
        Assert.Empty(elsewhere.Received);
    }

    [Fact]
    public async Task Large_body_is_sent_whole_and_a_sender_that_stops_reading_does_not_hang_the_receiver()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond(WebhookReply.LargeBody());

        using (var response = await PostAsync(receiver.Url, Body))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(200 * 1024, (await response.Content.ReadAsStringAsync()).Length);
        }
        // As the service does: read 64 KiB of the answer, then drop the connection.
        using (var request = new HttpRequestMessage(HttpMethod.Post, receiver.Url) { Content = new StringContent(Body) })
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            await using var stream = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64 * 1024];
            await stream.ReadAtLeastAsync(buffer, buffer.Length);
        }

        receiver.Respond(WebhookReply.Ok);
        using var next = await PostAsync(receiver.Url, Body);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(3, (await receiver.WaitForCountAsync(3)).Length);
    }

    [Fact]
    public async Task Slow_reply_waits_before_answering_and_a_sender_that_gives_up_aborts_it()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond(WebhookReply.Slow(TimeSpan.FromMilliseconds(700)));

        var watch = Stopwatch.StartNew();
        using (var response = await PostAsync(receiver.Url, Body))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(650), $"answered after {watch.ElapsedMilliseconds} ms");
        }

        receiver.Respond(WebhookReply.Slow(TimeSpan.FromMinutes(5)));
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => PostAsync(receiver.Url, Body, cancellationToken: giveUp.Token));

        var received = await receiver.WaitForAsync(r => r.Count == 2 && r[1].Aborted);
        Assert.Null(received[1].Answered);
        Assert.Equal(TimeSpan.FromMinutes(5), received[1].Reply!.Delay);
    }

    [Fact]
    public async Task Held_requests_wait_until_released_and_a_sender_that_goes_away_is_no_longer_held()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond(WebhookReply.Hold);

        var first = PostAsync(receiver.Url, Body);
        var second = PostAsync(receiver.Url, Body);
        Assert.Equal(2, (await receiver.WaitForHeldAsync(2)).Length);
        await Task.Delay(200);
        Assert.False(first.IsCompleted || second.IsCompleted);

        Assert.Equal(2, receiver.Release(WebhookReply.WithStatus(202)));
        using (var a = await first)
        using (var b = await second)
        {
            Assert.Equal(HttpStatusCode.Accepted, a.StatusCode);
            Assert.Equal(HttpStatusCode.Accepted, b.StatusCode);
        }
        Assert.Empty(receiver.Held);
        Assert.All(receiver.Received, r => Assert.Equal((WebhookReply.Hold, 202), (r.Reply, r.Answered!.Status)));

        // A sender killed mid-delivery: its connection closes, and the receiver stops holding its request.
        using var killed = new CancellationTokenSource();
        var third = PostAsync(receiver.Url, Body, cancellationToken: killed.Token);
        var held = Assert.Single(await receiver.WaitForHeldAsync(1));
        await killed.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => third);
        await receiver.WaitForAsync(_ => held.Aborted);
        Assert.Empty(receiver.Held);
        Assert.Equal(0, receiver.Release());
    }

    [Fact]
    public async Task Down_refuses_connections_and_up_listens_again_on_the_same_port()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var port = receiver.Port;
        using (var response = await PostAsync(receiver.Url, Body))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        receiver.Respond(WebhookReply.Hold);
        var inFlight = PostAsync(receiver.Url, Body);
        await receiver.WaitForHeldAsync(1);

        await receiver.DownAsync();

        Assert.False(receiver.IsUp);
        await Assert.ThrowsAsync<HttpRequestException>(() => inFlight);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => PostAsync(receiver.Url, Body));
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(refused.InnerException).SocketErrorCode);
        Assert.True(receiver.Received[1].Aborted);

        receiver.Respond(WebhookReply.Ok);
        await receiver.UpAsync();

        Assert.True(receiver.IsUp);
        Assert.Equal(port, receiver.Port);
        using (var response = await PostAsync(receiver.Url, Body))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(3, (await receiver.WaitForCountAsync(3)).Length);
    }

    [Fact]
    public async Task Signature_made_by_Sign_is_verified_by_both_packages()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var secret = Signatures.NewSecret();

        using var response = await PostAsync(receiver.Url, Body, Signatures.Headers("msg_2", DateTimeOffset.UtcNow, Body, secret));
        var request = Assert.Single(await receiver.WaitForCountAsync(1));

        Assert.Equal(Signatures.Verified, Signatures.VerifyWithStandardWebhooks(secret, request));
        Assert.Equal([Signatures.Verified], Signatures.VerifyEachWithStandardWebhooks(secret, request));
        Assert.Equal([Signatures.Verified], Signatures.CompareEachWithSign(secret, request));
        Assert.Equal((0, "verified"), await NodeVerifier.VerifyAsync(secret, request));
    }

    [Fact]
    public async Task Tampered_body_or_another_secret_is_rejected_by_both_packages()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var secret = Signatures.NewSecret();
        var tampered = Body.Replace("t-1", "t-2", StringComparison.Ordinal);

        using var response = await PostAsync(receiver.Url, tampered, Signatures.Headers("msg_3", DateTimeOffset.UtcNow, Body, secret));
        var request = Assert.Single(await receiver.WaitForCountAsync(1));

        Assert.Equal(tampered, request.Body);
        Assert.Equal("No matching signature found", Signatures.VerifyWithStandardWebhooks(secret, request));
        Assert.NotEqual([Signatures.Verified], Signatures.CompareEachWithSign(secret, request));
        Assert.Equal((1, "WebhookVerificationError: No matching signature found"), await NodeVerifier.VerifyAsync(secret, request));

        var original = Signatures.Headers("msg_3", DateTimeOffset.UtcNow, Body, secret);
        var other = Signatures.NewSecret();
        Assert.Equal("No matching signature found", Signatures.VerifyWithStandardWebhooks(other, Body, original));
        Assert.Equal((1, "WebhookVerificationError: No matching signature found"), await NodeVerifier.VerifyAsync(other, Body, original));
    }

    [Fact]
    public async Task Old_timestamp_fails_the_real_clock_check_and_still_matches_Sign()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var secret = Signatures.NewSecret();
        var fakeNow = DateTimeOffset.UtcNow.AddDays(-2); // a service on a FakeTimeProvider

        using var response = await PostAsync(receiver.Url, Body, Signatures.Headers("msg_4", fakeNow, Body, secret));
        var request = Assert.Single(await receiver.WaitForCountAsync(1));

        Assert.Equal("Message timestamp too old", Signatures.VerifyWithStandardWebhooks(secret, request));
        Assert.Equal((1, "WebhookVerificationError: Message timestamp too old"), await NodeVerifier.VerifyAsync(secret, request));
        Assert.Equal([Signatures.Verified], Signatures.CompareEachWithSign(secret, request));
        Assert.NotEqual([Signatures.Verified], Signatures.CompareEachWithSign(Signatures.NewSecret(), request));
    }

    [Fact]
    public async Task Two_signature_header_verifies_each_part_with_its_own_secret()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (oldSecret, newSecret, unrelated) = (Signatures.NewSecret(), Signatures.NewSecret(), Signatures.NewSecret());

        using var response = await PostAsync(receiver.Url, Body, Signatures.Headers("msg_5", DateTimeOffset.UtcNow, Body, oldSecret, newSecret));
        var request = Assert.Single(await receiver.WaitForCountAsync(1));

        var parts = request.Signature!.Split(' ');
        Assert.Equal(2, parts.Length);
        const string NoMatch = "No matching signature found";
        Assert.Equal([Signatures.Verified, NoMatch], Signatures.VerifyEachWithStandardWebhooks(oldSecret, request));
        Assert.Equal([NoMatch, Signatures.Verified], Signatures.VerifyEachWithStandardWebhooks(newSecret, request));
        Assert.Equal([NoMatch, NoMatch], Signatures.VerifyEachWithStandardWebhooks(unrelated, request));
        Assert.Equal([Signatures.Verified, $"{parts[1]} is not Sign's {parts[0]}"], Signatures.CompareEachWithSign(oldSecret, request));
        // The reason for the split: StandardWebhooks 1.1.2 looks at the first signature only (if this fails, the bug is fixed).
        Assert.Equal(NoMatch, Signatures.VerifyWithStandardWebhooks(newSecret, request));

        Assert.Equal((0, "verified"), await NodeVerifier.VerifyAsync(oldSecret, request));
        Assert.Equal((0, "verified"), await NodeVerifier.VerifyAsync(newSecret, request));
        Assert.Equal((1, "WebhookVerificationError: No matching signature found"), await NodeVerifier.VerifyAsync(unrelated, request));
    }

    private async Task<HttpResponseMessage> PostAsync(string url, string body, IHeaderDictionary? headers = null,
        CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        foreach (var (name, values) in headers ?? new HeaderDictionary())
        {
            request.Headers.Add(name, values.ToString());
        }
        return await client.SendAsync(request, cancellationToken);
    }
}
