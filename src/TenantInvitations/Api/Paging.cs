using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace TenantInvitations.Api;

// A keyset position: the sort time and id of the last row of the previous page.
internal readonly record struct Cursor(DateTime At, long Id)
{
    public string Encode() => Base64Url.EncodeToString(Encoding.ASCII.GetBytes(
        string.Create(CultureInfo.InvariantCulture, $"{At.Ticks}.{Id}")));

    public static bool TryDecode(string value, out Cursor cursor)
    {
        cursor = default;
        if (value.Length > 64 || !Base64Url.IsValid(value))
        {
            return false;
        }
        var parts = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(value)).Split('.');
        if (parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            && ticks is >= 0 and <= 3155378975999999999
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            cursor = new Cursor(new DateTime(ticks, DateTimeKind.Utc), id);
            return true;
        }
        return false;
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
