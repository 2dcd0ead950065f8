using TenantInvitations.Api;

namespace TenantInvitations.Events;

// A place in the feed: every event at or before (Position, Id) has been seen.
internal readonly record struct FeedCursor(long Position, long Id) : IComparable<FeedCursor>
{
    private const string Version = "e1";

    public string Encode() => CursorText.Encode(Version, Position, Id);

    public static bool TryDecode(string value, out FeedCursor cursor)
    {
        var valid = CursorText.TryDecode(value, Version, out var position, out var id);
        cursor = valid ? new FeedCursor(position, id) : default;
        return valid;
    }

    public int CompareTo(FeedCursor other) => (Position, Id).CompareTo((other.Position, other.Id));

    public static FeedCursor Max(FeedCursor a, FeedCursor b) => a.CompareTo(b) >= 0 ? a : b;
}
