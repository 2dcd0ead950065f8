using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace TenantInvitations.Tests;

public class SmtpTestApp : TestApp
{
    public SmtpSink Smtp { get; } = new();

    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
    [
        new("Email:Smtp:Host", "127.0.0.1"),
        new("Email:Smtp:Port", Smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("Email:Smtp:UseTls", "false"),
        new("Email:Smtp:From", "Acme Invitations <invitations@acme.test>"),
    ];

    public override Task<MimeMessage[]> WaitForEmailAsync(string address, int count = 1) => Smtp.WaitForAsync(address, count);

    protected override IEnumerable<MimeMessage> EmailsSent() => [.. base.EmailsSent(), .. Smtp.Messages];

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        finally
        {
            await Smtp.DisposeAsync();
        }
    }
}

// Email through a real SMTP conversation with a server on loopback.
public sealed class SmtpDeliveryTests(SmtpTestApp app) : IClassFixture<SmtpTestApp>
{
    [Fact]
    public async Task Email_arrives_over_smtp_with_both_parts_a_public_link_and_an_escaped_message()
    {
        var tenant = await app.CreateTenantAsync("Globex");
        var email = Scenarios.UniqueEmail();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/tenant/{tenant.Id}/admin/user/invitation")
        {
            Content = JsonContent.Create(new { email, role = "Admin", locale = "de", message = "<script>alert(1)</script> & \"hi\"\nsee you" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tenant.OwnerToken);
        request.Headers.Host = "evil.example";
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        using var client = app.CreateClient();
        var created = await ApiResponse.ReadAsync(await client.SendAsync(request));
        var id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();

        var message = Assert.Single(await app.Smtp.WaitForAsync(email));
        Assert.Equal("invitations@acme.test", message.From.Mailboxes.Single().Address);
        Assert.Equal($"{tenant.OwnerEmail} hat Sie zu Globex eingeladen", message.Subject);
        Assert.Equal("de", message.Body?.Headers[HeaderId.ContentLanguage]);
        var messageId = await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().Where(m => m.InvitationId == id).Select(m => m.MessageId).SingleAsync());
        Assert.Equal(messageId, message.MessageId);

        var link = $"https://invitations.example.test/accept?token={Mailbox.TokenFrom(message)}";
        Assert.Contains(link, message.TextBody);
        Assert.Contains($"href=\"{link}\"", message.HtmlBody);
        Assert.DoesNotContain("evil.example", message.TextBody + message.HtmlBody);
        Assert.Contains("<script>alert(1)</script> & \"hi\"", message.TextBody);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;hi&quot;", message.HtmlBody);
        Assert.DoesNotContain("<script>", message.HtmlBody);
        Assert.Contains("Administrator", message.TextBody);
        Assert.Contains("Diese Einladung läuft am", message.HtmlBody);

        var delivery = await DeliveryAsync(tenant, id, d => d.Status == "Sent");
        Assert.Equal((1, null), (delivery.Attempts, delivery.LastError));
    }

    [Fact]
    public async Task Line_breaks_in_names_and_addresses_are_400_and_no_header_is_injected()
    {
        var tenant = await app.CreateTenantAsync();
        // A platform admin may act in any tenant, so only the email claim is at fault here.
        var injected = TestApp.Token("inviter", "root@platform.test\r\nBcc: victim@evil.example", platformAdmin: true);

        (await app.PostAsync("/tenant", new { name = "Acme\r\nBcc: victim@evil.example", ownerEmail = Scenarios.UniqueEmail() }, app.PlatformAdminToken))
            .AssertError(HttpStatusCode.BadRequest, "ValidationError");
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = "a@example.test\r\nBcc: victim@evil.example" }, tenant.OwnerToken))
            .AssertError(HttpStatusCode.BadRequest, "ValidationError");
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/settings", tenant.OwnerToken, new { displayName = "Acme\nBcc: victim@evil.example" }))
            .AssertError(HttpStatusCode.BadRequest, "ValidationError");
        var byInjectedInviter = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail() }, injected);
        Assert.Contains("shown as the inviter", byInjectedInviter.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo.Single());

        // Line breaks are allowed in the admin's message; they stay in the body.
        var legit = Scenarios.UniqueEmail();
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = legit, message = "Hello\r\nBcc: victim@evil.example\r\n\r\nbye" }, tenant.OwnerToken))
            .AssertSuccess(HttpStatusCode.Created);
        var sent = Assert.Single(await app.Smtp.WaitForAsync(legit));
        Assert.Contains("Bcc: victim@evil.example", sent.TextBody);
        Assert.All(app.Smtp.Messages, m =>
        {
            Assert.Empty(m.Bcc);
            Assert.DoesNotContain(m.Headers, h => h.Value.Contains("victim", StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task Smtp_down_for_a_while_then_the_email_is_delivered_after_it_returns()
    {
        var tenant = await app.CreateTenantAsync();
        await app.Smtp.StopAsync();
        string email;
        long id;
        try
        {
            email = Scenarios.UniqueEmail();
            var created = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email }, tenant.OwnerToken);
            id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
            var waiting = await DeliveryAsync(tenant, id, d => d.Attempts >= 1);
            Assert.Equal("Sending", waiting.Status);
            Assert.Contains($"Could not deliver through the mail server 127.0.0.1:{app.Smtp.Port}", waiting.LastError);
            Assert.Contains("It will be retried", waiting.LastError);
        }
        finally
        {
            app.Smtp.Start();
        }

        app.Clock.Advance(TimeSpan.FromMinutes(11)); // past the longest wait between retries
        var message = Assert.Single(await app.Smtp.WaitForAsync(email));
        var sent = await DeliveryAsync(tenant, id, d => d.Status == "Sent");
        Assert.True(sent.Attempts >= 2, $"attempts: {sent.Attempts}");
        Assert.Null(sent.LastError);
        Assert.Equal(message.MessageId, await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().Where(m => m.InvitationId == id).Select(m => m.MessageId).SingleAsync()));
    }

    [Fact]
    public async Task A_550_reply_fails_the_email_at_once_with_the_reason_and_a_resend_queues_a_fresh_one()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail("bounce");
        app.Smtp.Refuses = address => address == email;
        try
        {
            var created = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email }, tenant.OwnerToken);
            var id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();

            var failed = await DeliveryAsync(tenant, id, d => d.Status == "Failed");
            Assert.Equal(1, failed.Attempts);
            Assert.Contains($"refused the email for {email}: 550", failed.LastError);
            Assert.Contains("No such user here", failed.LastError);
            app.Clock.Advance(TimeSpan.FromMinutes(30));
            var later = await app.InviteAsync(tenant); // the dispatcher has run again since
            Assert.Single(app.Smtp.To(later.Email));
            Assert.Equal(1, (await DeliveryAsync(tenant, id, _ => true)).Attempts); // never retried

            app.Smtp.Refuses = _ => false;
            var resent = await app.PutAsync(Scenarios.ResendPath(tenant, id), tenant.OwnerToken);
            Assert.Equal("Queued", resent.AssertSuccess()[0].GetProperty("delivery").GetProperty("status").GetString());
            Assert.Single(await app.Smtp.WaitForAsync(email));
            Assert.Equal("Sent", (await DeliveryAsync(tenant, id, d => d.Status == "Sent")).Status);
            Assert.Equal(2, await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == id)));
        }
        finally
        {
            app.Smtp.Refuses = _ => false;
        }
    }

    [Fact]
    public async Task An_email_still_waiting_when_its_invitation_is_revoked_is_never_sent_and_says_why()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();
        await app.Smtp.StopAsync();
        long id;
        try
        {
            var created = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email }, tenant.OwnerToken);
            id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
            await DeliveryAsync(tenant, id, d => d.Status == "Sending");
            (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={id}", tenant.OwnerToken)).AssertSuccess();
        }
        finally
        {
            app.Smtp.Start();
        }
        app.Clock.Advance(TimeSpan.FromMinutes(11));

        var cancelled = await DeliveryAsync(tenant, id, d => d.Status == "Failed");
        Assert.Equal("Not sent: the invitation was revoked first.", cancelled.LastError);
        var outbox = await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().SingleAsync(m => m.InvitationId == id));
        Assert.Equal(TenantInvitations.Email.OutboxStatus.Cancelled, outbox.Status);
        Assert.Null(outbox.ProtectedToken);
        Assert.Empty(app.Smtp.To(email));
    }

    [Fact]
    public async Task A_4xx_reply_is_retried_and_the_email_then_arrives()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail("busy");
        app.Smtp.Defers = address => address == email;
        long id;
        try
        {
            var created = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email }, tenant.OwnerToken);
            id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
            var deferred = await DeliveryAsync(tenant, id, d => d.Attempts >= 1);
            Assert.Equal("Sending", deferred.Status);
            Assert.Contains($"deferred the email for {email}: 451", deferred.LastError);
        }
        finally
        {
            app.Smtp.Defers = _ => false;
        }
        app.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Single(await app.Smtp.WaitForAsync(email));
        Assert.Equal("Sent", (await DeliveryAsync(tenant, id, d => d.Status == "Sent")).Status);
    }

    [Fact]
    public async Task A_refused_sender_is_a_problem_of_the_server_setup_so_emails_wait_instead_of_failing()
    {
        var tenant = await app.CreateTenantAsync();
        var emails = new[] { Scenarios.UniqueEmail(), Scenarios.UniqueEmail() };
        app.Smtp.RefusesSenders = true;
        var ids = new List<long>();
        try
        {
            foreach (var email in emails)
            {
                var created = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email }, tenant.OwnerToken);
                ids.Add(created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64());
            }
            // The first email sent meets the refusal and is retried, not failed. Whether the other is tried too depends on
            // whether the mail server's circuit opened first (MailServerCircuit): if it did, it waits unattempted.
            var tried = await Eventually.ValueAsync(async () => await Task.WhenAll(ids.Select(id => DeliveryAsync(tenant, id, _ => true))),
                deliveries => deliveries.Any(d => d.Attempts >= 1));
            foreach (var delivery in tried)
            {
                Assert.Equal(delivery.Attempts == 0 ? "Queued" : "Sending", delivery.Status);
                if (delivery.Attempts > 0)
                {
                    Assert.Contains("refused the sender address: 553", delivery.LastError);
                    Assert.Contains("check Email:Smtp:From", delivery.LastError);
                }
            }
        }
        finally
        {
            app.Smtp.RefusesSenders = false;
        }
        app.Clock.Advance(TimeSpan.FromMinutes(11));
        foreach (var email in emails)
        {
            Assert.Single(await app.Smtp.WaitForAsync(email));
        }
    }

    [Fact]
    public async Task After_a_day_of_failed_retries_the_email_is_marked_failed_with_the_last_error()
    {
        var tenant = await app.CreateTenantAsync();
        await app.Smtp.StopAsync();
        try
        {
            var created = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail() }, tenant.OwnerToken);
            var id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
            await DeliveryAsync(tenant, id, d => d.Attempts >= 1);

            app.Clock.Advance(TimeSpan.FromHours(25));
            var failed = await DeliveryAsync(tenant, id, d => d.Status == "Failed");
            Assert.StartsWith("Gave up after retrying for 24 hours. Last error: Could not deliver through the mail server", failed.LastError);
        }
        finally
        {
            app.Smtp.Start();
        }
    }

    [Fact]
    public async Task A_batch_of_waiting_emails_goes_out_over_one_connection_per_batch()
    {
        var tenant = await app.CreateTenantAsync();
        var emails = Enumerable.Range(0, 5).Select(_ => Scenarios.UniqueEmail("batch")).ToArray();
        await app.Smtp.StopAsync();
        try
        {
            foreach (var email in emails)
            {
                (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email }, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created);
            }
            // At least one is tried and fails; the rest may wait untried once the mail server's circuit is open.
            await Eventually.ValueAsync(() => app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters()
                .CountAsync(m => m.TenantId == tenant.Id && m.LastError != null)), tried => tried >= 1);
        }
        finally
        {
            app.Smtp.Start();
        }
        var sessionsBefore = app.Smtp.Sessions;

        app.Clock.Advance(TimeSpan.FromMinutes(11));
        foreach (var email in emails)
        {
            await app.Smtp.WaitForAsync(email);
        }
        // One connection per batch, not per email: the emails that waited untried can go in the batch right after the
        // server is back, the ones scheduled for a retry in the next (MailServerCircuit), so one or two connections for five.
        Assert.InRange(app.Smtp.Sessions - sessionsBefore, 1, 2);
    }

    private sealed record Delivery(string Status, int Attempts, string? LastError);

    private Task<Delivery> DeliveryAsync(TenantSetup tenant, long id, Func<Delivery, bool> done) => Eventually.ValueAsync(async () =>
    {
        var model = (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation/{id}", tenant.OwnerToken)).AssertSuccess();
        var delivery = model.GetProperty("delivery");
        return new Delivery(delivery.GetProperty("status").GetString()!, delivery.GetProperty("attempts").GetInt32(), delivery.GetProperty("lastError").GetString());
    }, done);
}

public sealed class TlsRequiredApp : SmtpTestApp
{
    // The loopback server offers no STARTTLS; with TLS required, nothing may go out in the clear.
    protected override IEnumerable<KeyValuePair<string, string>> Settings() => [.. base.Settings(), new("Email:Smtp:UseTls", "true")];
}

public sealed class SmtpTlsTests(TlsRequiredApp app) : IClassFixture<TlsRequiredApp>
{
    [Fact]
    public async Task When_tls_is_required_and_the_server_offers_none_the_email_waits_and_says_why()
    {
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var created = await app.PostAsync("/tenant", new { name = "Tls Co", ownerEmail }, app.PlatformAdminToken);
        var tenantId = created.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();

        var delivery = await Eventually.ValueAsync(async () =>
        {
            var list = (await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation", app.PlatformAdminToken)).AssertSuccess();
            return list[0].GetProperty("delivery");
        }, d => d.GetProperty("attempts").GetInt32() >= 1);
        Assert.Equal("Sending", delivery.GetProperty("status").GetString());
        Assert.Contains("TLS could not be set up", delivery.GetProperty("lastError").GetString());
        Assert.Empty(app.Smtp.Messages);
    }
}

public sealed class SlowPollApp : SmtpTestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings() => [.. base.Settings(), new("Email:PollInterval", "01:00:00")];
}

public sealed class PromptDeliveryTests(SlowPollApp app) : IClassFixture<SlowPollApp>
{
    [Fact]
    public async Task A_committed_email_wakes_the_dispatcher_without_waiting_for_the_poll()
    {
        // With an hour between polls, only the commit's signal can deliver these within the test's wait.
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        Assert.Single(app.Smtp.To(invitation.Email));
    }
}
