using TenantInvitations.Invitations;
using TenantInvitations.Members;
using TenantInvitations.Tenants;

namespace TenantInvitations.Events;

// The event catalogue of API.md: each type, what its `data` is, and when it happens.
internal static class EventTypes
{
    public const string InvitationCreated = "invitation.created";
    public const string InvitationResent = "invitation.resent";
    public const string InvitationRevoked = "invitation.revoked";
    public const string InvitationAccepted = "invitation.accepted";
    public const string InvitationDeclined = "invitation.declined";
    public const string InvitationExpired = "invitation.expired";
    public const string InvitationDelivered = "invitation.delivered";
    public const string InvitationDeliveryFailed = "invitation.delivery_failed";
    public const string MemberAdded = "member.added";
    public const string MemberRoleChanged = "member.role_changed";
    public const string MemberRemoved = "member.removed";
    public const string TenantCreated = "tenant.created";
    public const string TenantSettingsChanged = "tenant.settings_changed";
    public const string WebhookTest = "webhook.test";

    public sealed record EventType(string Name, Type Data, string Description);

    public static readonly IReadOnlyList<EventType> All =
    [
        new(InvitationCreated, typeof(UserInvitationModel), "An invitation was created and its email queued (also the first Owner's, with tenant.created)."),
        new(InvitationResent, typeof(UserInvitationModel), "An invitation was resent: a new link, a new expiry, one more email."),
        new(InvitationRevoked, typeof(UserInvitationModel), "An invitation was revoked; its link stopped working."),
        new(InvitationAccepted, typeof(UserInvitationModel), "An invitation was accepted (member.added follows in the same transaction)."),
        new(InvitationDeclined, typeof(UserInvitationModel), "An invitation was declined."),
        new(InvitationExpired, typeof(UserInvitationModel),
            "An invitation's link lapsed unanswered: once per lapse, within Events:ExpirySweep of expiresAt; a resend re-arms it. No actor."),
        new(InvitationDelivered, typeof(UserInvitationModel), "The mail server accepted the invitation's latest email. No actor."),
        new(InvitationDeliveryFailed, typeof(UserInvitationModel),
            "Delivery of the invitation's latest email gave up or was refused for good; `delivery.lastError` says why. No actor."),
        new(MemberAdded, typeof(AddedMemberModel), "Someone joined the tenant by accepting an invitation (`invitationId`)."),
        new(MemberRoleChanged, typeof(RoleChangedMemberModel), "A member's role changed (`previousRole`)."),
        new(MemberRemoved, typeof(MemberModel), "A member was removed; `data` is the member as it was."),
        new(TenantCreated, typeof(TenantModel), "A tenant was created (its Owner's invitation.created follows)."),
        new(TenantSettingsChanged, typeof(TenantSettingsModel), "The tenant's settings were replaced, or it was renamed; `data` is the settings after."),
        new(WebhookTest, typeof(EmptyData), "A test send to one endpoint only. Never in the feed. `tenantId` is null for a platform endpoint."),
    ];

    // What the feed holds and a webhook may subscribe to: everything but the test.
    public static readonly IReadOnlyList<string> Subscribable = [.. All.Select(t => t.Name).Where(n => n != WebhookTest)];

    public static bool IsSubscribable(string? name) => name is not null && Subscribable.Contains(name, StringComparer.Ordinal);
}

internal sealed record EmptyData;
