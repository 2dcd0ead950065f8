using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Data;
using TenantInvitations.Invitations;

namespace TenantInvitations.Email;

// Makes the outbox row for an invitation's email. The token travels encrypted, and is erased once the email is out.
internal sealed class EmailOutbox(IdGenerator ids, IDataProtectionProvider protection, IOptions<AppOptions> app, OutboxSignal signal)
{
    private readonly IDataProtector protector = protection.CreateProtector("TenantInvitations.Outbox.InvitationToken");

    public async ValueTask<OutboxMessage> NewMessageAsync(long invitationId, long tenantId, string token, DateTime now, CancellationToken cancellationToken) =>
        NewMessage(await ids.NextAsync(cancellationToken), invitationId, tenantId, token, now);

    public OutboxMessage NewMessage(long id, long invitationId, long tenantId, string token, DateTime now) =>
        OutboxMessage.ForInvitation(id, invitationId, tenantId, protector.Protect(token), app.Value.BaseUri.Host, now);

    public string UnprotectToken(string protectedToken) => protector.Unprotect(protectedToken);

    // Call after the transaction that queued a message has committed.
    public void Committed() => signal.Notify();
}

// Wakes the dispatcher as soon as a message is committed, so it need not poll to be prompt.
internal sealed class OutboxSignal : Signal;
