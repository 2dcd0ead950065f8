using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Data;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

namespace TenantInvitations.Tests;

// What the database itself guarantees, whatever writes to it: these go around the API on purpose.
public sealed class SchemaTests(TestApp app) : IClassFixture<TestApp>
{
    [Fact]
    public async Task A_second_pending_invitation_for_an_address_that_differs_only_in_case_is_refused_by_the_database()
    {
        var tenant = await app.CreateTenantAsync();
        var invited = await app.InviteAsync(tenant, email: $"ann-{Guid.NewGuid():N}@example.test");

        var refused = await app.QueryAsync(async db =>
        {
            var row = await db.Tenants.SingleAsync(t => t.Id == tenant.Id);
            var copy = Invitation.Create(9_000_000_001, row, invited.Email.ToUpperInvariant(), MemberRole.Member, 7, null, "en", "schema-test",
                RandomNumberGenerator.GetBytes(32), invited.Id, DateTime.UtcNow);
            db.Invitations.Add(copy);
            // Create normalizes to lower case; write the upper-case form as a careless writer would.
            db.Entry(copy).Property(i => i.NormalizedEmail).CurrentValue = invited.Email.ToUpperInvariant();
            return await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
        });

        Assert.True(Storage.IsUniqueViolation(refused), refused.ToString());
        Assert.Equal(1, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id && i.NormalizedEmail == invited.Email)));
    }

    [Fact]
    public async Task Once_the_pending_invitation_is_answered_the_same_address_may_be_invited_again()
    {
        var tenant = await app.CreateTenantAsync();
        var first = await app.InviteAsync(tenant);
        (await app.PostAsync("/invitation/decline", new { token = first.Token })).AssertSuccess();

        var again = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = first.Email.ToUpperInvariant(), role = "Member" }, tenant.OwnerToken);

        again.AssertSuccess(System.Net.HttpStatusCode.Created);
        var stored = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.NormalizedEmail == first.Email)
            .OrderBy(i => i.Id).Select(i => i.Status).ToListAsync());
        Assert.Equal([InvitationStatus.Declined, InvitationStatus.Pending], stored);
    }

    [Fact]
    public async Task Two_users_whose_addresses_differ_only_in_case_are_refused_by_the_database()
    {
        var email = $"bob-{Guid.NewGuid():N}@example.test";

        var refused = await app.QueryAsync(async db =>
        {
            db.Users.Add(new User { Id = 9_000_000_101, Email = email, NormalizedEmail = email, CreatedAt = DateTime.UtcNow });
            db.Users.Add(new User { Id = 9_000_000_102, Email = email.ToUpperInvariant(), NormalizedEmail = email.ToUpperInvariant(), CreatedAt = DateTime.UtcNow });
            return await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
        });

        Assert.True(Storage.IsUniqueViolation(refused), refused.ToString());
        Assert.Equal(0, await app.QueryAsync(db => db.Users.CountAsync(u => u.Id == 9_000_000_101 || u.Id == 9_000_000_102)));
    }
}
