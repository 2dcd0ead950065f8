using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace TenantInvitations.Api;

// A keyset position: the sort time and id of the last row of the previous page.
internal readonly record struct Cursor(DateTime At, long Id)
{
    public string Encode() => CursorText.Encode(null, At.Ticks, Id);

    public static bool TryDecode(string value, out Cursor cursor)
    {
        var valid = CursorText.TryDecode(value, null, out var ticks, out var id) && ticks <= DateTime.MaxValue.Ticks;
        cursor = valid ? new Cursor(new DateTime(ticks, DateTimeKind.Utc), id) : default;
        return valid;
    }
}

// The text of an opaque cursor: two non-negative numbers joined by a dot, after a version tag if it has one, in base64url.
// Anything else (too long, not base64url, another tag, a sign, a number out of range) does not decode.
internal static class CursorText
{
    private const int MaxLength = 80;

    public static string Encode(string? tag, long first, long second) => Base64Url.EncodeToString(Encoding.ASCII.GetBytes(tag is null
        ? string.Create(CultureInfo.InvariantCulture, $"{first}.{second}")
        : string.Create(CultureInfo.InvariantCulture, $"{tag}.{first}.{second}")));

    public static bool TryDecode(string value, string? tag, out long first, out long second)
    {
        first = second = 0;
        if (value.Length > MaxLength || !Base64Url.IsValid(value))
        {
            return false;
        }
        var parts = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(value)).Split('.');
        var numbers = parts.AsSpan(tag is null ? 0 : 1);
        return (tag is null ? parts.Length == 2 : parts.Length == 3 && parts[0] == tag)
            && long.TryParse(numbers[0], NumberStyles.None, CultureInfo.InvariantCulture, out first)
            && long.TryParse(numbers[1], NumberStyles.None, CultureInfo.InvariantCulture, out second);
    }
}

internal readonly record struct Page(int Limit, Cursor? After)
{
    public static Page Parse(int? limit, string? after, List<string> problems)
    {
        if (limit is < 1 or > Limits.MaxPageSize)
        {
            problems.Add($"The limit must be from 1 to {Limits.MaxPageSize}.");
        }
        Cursor? cursor = null;
        if (after is not null)
        {
            if (Cursor.TryDecode(after, out var decoded))
            {
                cursor = decoded;
            }
            else
            {
                problems.Add("The after cursor is not valid. Use the one from the previous page's Link header.");
            }
        }
        return new Page(limit ?? Limits.DefaultPageSize, cursor);
    }

    // Rows were read with one extra; if it came back there is a next page, linked relative to this path (never from the Host header).
    public T[] Finish<T>(HttpContext http, List<T> rows, Func<T, Cursor> cursorOf)
    {
        if (rows.Count <= Limit)
        {
            return [.. rows];
        }
        LinkNext(http, cursorOf(rows[Limit - 1]).Encode());
        return [.. rows.Take(Limit)];
    }

    // `Link: <this path and query, with after=cursor>; rel="next"`, relative to the path (never from the Host header).
    public static void LinkNext(HttpContext http, string after)
    {
        var query = http.Request.Query
            .Where(q => q.Key is not "after")
            .SelectMany(q => q.Value.Select(value => KeyValuePair.Create(q.Key, value)))
            .Append(KeyValuePair.Create("after", (string?)after));
        http.Response.Headers.Link = $"<{QueryHelpers.AddQueryString(http.Request.PathBase + http.Request.Path, query)}>; rel=\"next\"";
    }
}
