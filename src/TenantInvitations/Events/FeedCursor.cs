using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace TenantInvitations.Events;

// A place in the feed: every event at or before (Position, Id) has been seen.
internal readonly record struct FeedCursor(long Position, long Id) : IComparable<FeedCursor>
{
    private const string Version = "e1";

    public string Encode() => Base64Url.EncodeToString(Encoding.ASCII.GetBytes(
        string.Create(CultureInfo.InvariantCulture, $"{Version}.{Position}.{Id}")));

    public static bool TryDecode(string value, out FeedCursor cursor)
    {
        cursor = default;
        if (value.Length > 80 || !Base64Url.IsValid(value))
        {
            return false;
        }
        var parts = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(value)).Split('.');
        if (parts is [Version, var position, var id]
            && long.TryParse(position, NumberStyles.None, CultureInfo.InvariantCulture, out var p)
            && long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var i))
        {
            cursor = new FeedCursor(p, i);
            return true;
        }
        return false;
    }

    public int CompareTo(FeedCursor other) => (Position, Id).CompareTo((other.Position, other.Id));

    public static FeedCursor Max(FeedCursor a, FeedCursor b) => a.CompareTo(b) >= 0 ? a : b;
}
