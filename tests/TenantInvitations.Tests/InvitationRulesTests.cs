using Microsoft.Extensions.DependencyInjection;
using TenantInvitations.Data;
using TenantInvitations.Invitations;
using TenantInvitations.Members;
using TenantInvitations.Tenants;

namespace TenantInvitations.Tests;

// The state rules on the entity, without HTTP: they take `now` and return a plain outcome.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class InvitationRulesTests
{
    private static readonly DateTime Start = new(2026, 3, 15, 14, 45, 0, DateTimeKind.Utc);
    private static readonly TimeSpan Cooldown = TimeSpan.FromMinutes(1);

    private static Invitation NewInvitation() => Invitation.Create(1, new Tenant { Id = 7, Name = "Acme" }, "Dana@Example.com",
        MemberRole.Member, 7, null, "en", "admin@acme.test", new byte[32], 2, Start);

    [Fact]
    public void New_invitation_is_pending_sent_once_and_expires_after_its_validity()
    {
        var invitation = NewInvitation();
        Assert.Equal("dana@example.com", invitation.NormalizedEmail);
        Assert.Equal(InvitationStatus.Pending, invitation.StatusAt(Start));
        Assert.Equal(1, invitation.SendCount);
        Assert.Equal(Start.AddDays(7), invitation.ExpiresAt);
        Assert.Equal(InvitationStatus.Expired, invitation.StatusAt(Start.AddDays(7)));
        Assert.Equal(Outcome.Expired, invitation.CanRespond(Start.AddDays(7)));
    }

    [Fact]
    public void Resend_within_the_cooldown_says_how_long_to_wait()
    {
        var outcome = NewInvitation().CanResend(Start.AddSeconds(45), Cooldown, 5);
        Assert.Equal(OutcomeKind.RateLimited, outcome.Kind);
        Assert.Equal(TimeSpan.FromSeconds(15), outcome.RetryAfter);
        Assert.True(NewInvitation().CanResend(Start.AddSeconds(60), Cooldown, 5).IsOk);
    }

    [Fact]
    public void Daily_cap_counts_the_last_24_hours_only()
    {
        var invitation = NewInvitation();
        var now = Start;
        for (var i = 0; i < 4; i++)
        {
            now = now.AddHours(1);
            Assert.True(invitation.CanResend(now, Cooldown, 5).IsOk);
            invitation.Resend(new byte[32], 10 + i, now, 5);
        }
        // Five sends: Start, +1h, +2h, +3h, +4h.
        var capped = invitation.CanResend(now.AddHours(1), Cooldown, 5);
        Assert.Equal(OutcomeKind.RateLimited, capped.Kind);
        Assert.Equal(TimeSpan.FromHours(19), capped.RetryAfter);
        Assert.True(invitation.CanResend(Start.AddDays(1).AddSeconds(1), Cooldown, 5).IsOk);
        Assert.Equal(5, invitation.SendCount);
        Assert.True(invitation.RecentSends.Count <= 5);
    }

    [Fact]
    public void Resend_moves_expiry_counts_the_send_and_queues_a_new_delivery()
    {
        var invitation = NewInvitation();
        var version = invitation.Version;
        var later = Start.AddDays(10);
        invitation.Resend([1, 2, 3], 99, later, 5);
        Assert.Equal(later.AddDays(7), invitation.ExpiresAt);
        Assert.Equal(later, invitation.LastSentAt);
        Assert.Equal(2, invitation.SendCount);
        Assert.Equal(99, invitation.DeliveryOutboxId);
        Assert.Equal(TenantInvitations.Email.DeliveryStatus.Queued, invitation.DeliveryStatus);
        Assert.Equal(version + 1, invitation.Version);
        Assert.Equal(InvitationStatus.Pending, invitation.StatusAt(later));
    }

    [Theory]
    [InlineData("accept")]
    [InlineData("decline")]
    [InlineData("revoke")]
    public void Answered_or_revoked_invitation_cannot_change_again(string change)
    {
        var invitation = NewInvitation();
        var status = change switch
        {
            "accept" => Do(() => invitation.Accept(5, Start), InvitationStatus.Accepted),
            "decline" => Do(() => invitation.Decline(Start), InvitationStatus.Declined),
            _ => Do(() => invitation.Revoke(Start), InvitationStatus.Revoked),
        };
        Assert.Equal(status, invitation.StatusAt(Start.AddDays(30)));
        Assert.Equal(Outcome.NotPending(status), invitation.CanResend(Start.AddDays(1), Cooldown, 5));
        Assert.Equal(Outcome.NotPending(status), invitation.CanRespond(Start));
        Assert.Equal(Outcome.NotPending(status), invitation.CanRevoke());
    }

    private static InvitationStatus Do(Action change, InvitationStatus status)
    {
        change();
        return status;
    }
}

public sealed class IdGeneratorTests(TestApp app) : IClassFixture<TestApp>
{
    [Fact]
    public async Task Ids_are_unique_positive_and_javascript_safe_under_concurrency()
    {
        var ids = app.Services.GetRequiredService<IdGenerator>();
        var generated = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            var mine = new List<long>();
            for (var i = 0; i < 1500; i++)
            {
                mine.Add(await ids.NextAsync(CancellationToken.None));
            }
            return mine;
        })));
        var all = generated.SelectMany(x => x).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.All(all, id => Assert.InRange(id, 1, (1L << 53) - 1));
    }

    [Fact]
    public async Task A_second_generator_on_the_same_database_never_repeats_an_id()
    {
        var first = app.Services.GetRequiredService<IdGenerator>();
        var second = new IdGenerator(app.Services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<AppDbContext>>());
        var ids = new List<long>();
        for (var i = 0; i < 2500; i++)
        {
            ids.Add(await first.NextAsync(CancellationToken.None));
            ids.Add(await second.NextAsync(CancellationToken.None));
        }
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }
}
