namespace TenantInvitations.Tests;

// After a rotation both secrets sign for 24 hours: each signature checked on its own by StandardWebhooks, the whole header by the
// npm package under node; then only the new one.
public sealed class WebhookRotationTests(WebhookTestApp app) : IClassFixture<WebhookTestApp>
{
    [Fact]
    public async Task After_a_rotation_deliveries_carry_the_new_and_the_previous_signature_for_24_hours_then_only_the_new()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        var webhook = await app.CreateWebhookAsync(tenant, receiver.Url, ["invitation.created"]);
        var previous = webhook.Secret;
        var rotated = (await app.PostAsync($"{webhook.Path}/rotate-secret", null, tenant.OwnerToken)).AssertSuccess().GetProperty("secret").GetString()!;
        app.RememberSecret(rotated);

        await app.InviteAsync(tenant);

        var during = Assert.Single(await receiver.WaitForCountAsync(1));
        Assert.Equal(2, during.Signature!.Split(' ').Length);
        Assert.Equal([Signatures.Verified, "No matching signature found"], Signatures.VerifyEachWithStandardWebhooks(rotated, during));
        Assert.Equal(["No matching signature found", Signatures.Verified], Signatures.VerifyEachWithStandardWebhooks(previous, during));
        Assert.Equal((0, "verified"), await NodeVerifier.VerifyAsync(rotated, during));
        Assert.Equal((0, "verified"), await NodeVerifier.VerifyAsync(previous, during));
        Assert.Equal(1, (await NodeVerifier.VerifyAsync(Signatures.NewSecret(), during)).ExitCode);

        app.Clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        await app.InviteAsync(tenant);

        var after = (await receiver.WaitForCountAsync(2))[1];
        Assert.Equal([Signatures.Verified], Signatures.CompareEachWithSign(rotated, after));
        Assert.NotEqual([Signatures.Verified], Signatures.CompareEachWithSign(previous, after));
    }
}
