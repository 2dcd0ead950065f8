using System.Text;
using nietras.SeparatedValues;
using TenantInvitations.Invitations;

namespace TenantInvitations.Imports;

// A data row of an uploaded CSV: the physical line it starts on (the header is line 1) and the create it asks for.
internal sealed record ImportRow(int Line, string Email, BatchRow Row);

// The uploaded file read with Sep (a maintained parser; nothing here splits CSV by hand): UTF-8 with or without a BOM, comma or
// semicolon (Sep picks the one in the header), RFC 4180 quoting with separators and line breaks inside quotes, CRLF or LF.
// Column names are matched case-insensitively; a record whose fields are all empty or blank is a blank line and skipped.
internal static class ImportCsv
{
    public const int MaxBytes = 10 * 1024 * 1024;
    public const int MaxRows = 100_000;
    public static readonly string[] Columns = ["email", "role", "expiresInDays", "message", "locale"];

    public sealed record Parsed(IReadOnlyList<ImportRow> Rows, IReadOnlyList<string> IgnoredColumns);

    // The rows, or the 400's problem (not UTF-8, no header with an email column, a column twice, too many rows, not CSV).
    public static (Parsed? File, string? Problem) Parse(ReadOnlySpan<byte> content)
    {
        if (!System.Text.Unicode.Utf8.IsValid(content))
        {
            return (null, "The file must be UTF-8 text (with or without a byte order mark); save the spreadsheet as 'CSV UTF-8'.");
        }
        if (content.StartsWith("\uFEFF"u8))
        {
            content = content[3..];
        }
        var text = Encoding.UTF8.GetString(content);
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            return (null, "The file must be text; it contains a NUL character.");
        }
        try
        {
            // The header is read as a record like any other (Sep's own header map refuses repeated names, and a spreadsheet's
            // export repeats empty ones), then matched here.
            using var reader = Sep.Reader(o => o with { Unescape = true, DisableColCountCheck = true, HasHeader = false }).FromText(text);
            var positions = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            var ignored = new List<string>();
            var records = reader.GetEnumerator();
            if (records.MoveNext())
            {
                var header = records.Current;
                for (var i = 0; i < header.ColCount; i++)
                {
                    var name = header[i].ToString().Trim();
                    if (Columns.Contains(name, StringComparer.OrdinalIgnoreCase))
                    {
                        if (!positions.TryAdd(name, i))
                        {
                            return (null, $"The column {name} appears more than once in the header row.");
                        }
                    }
                    else if (name.Length > 0)
                    {
                        ignored.Add(name);
                    }
                }
            }
            if (!positions.ContainsKey("email"))
            {
                return (null, $"The first row must name the columns, with an email column ({string.Join(", ", Columns)}; any case).");
            }
            var rows = new List<ImportRow>();
            while (records.MoveNext())
            {
                var record = records.Current;
                var fields = new string?[Columns.Length];
                var blank = true;
                for (var c = 0; c < Columns.Length; c++)
                {
                    if (positions.TryGetValue(Columns[c], out var at) && at < record.ColCount)
                    {
                        fields[c] = record[at].ToString();
                    }
                }
                for (var c = 0; c < record.ColCount && blank; c++)
                {
                    blank = record[c].Span.IsWhiteSpace();
                }
                if (blank)
                {
                    continue;
                }
                if (rows.Count == MaxRows)
                {
                    return (null, $"The file has more than {MaxRows} rows; split it into several imports.");
                }
                var row = BatchRow.FromText(fields[0], fields[1], fields[2], fields[3], fields[4]);
                rows.Add(new ImportRow(record.LineNumberFrom, fields[0] ?? "", row));
            }
            return (new Parsed(rows, ignored), null);
        }
        catch (Exception exception) when (exception is InvalidDataException or ArgumentException or NotSupportedException)
        {
            return (null, "The file is not valid CSV.");
        }
    }
}

// The results as CSV: line,email,status,invitationId,error, written by Sep, with every cell a spreadsheet would read as a
// formula (starting with =, +, -, @, tab or CR) prefixed with an apostrophe.
internal static class ImportResults
{
    public const int MaxStoredLength = 1000;

    // Cut to the column's length, never between the two halves of a surrogate pair.
    public static string Stored(string value) => value.Length <= MaxStoredLength ? value
        : value[..(char.IsHighSurrogate(value[MaxStoredLength - 1]) ? MaxStoredLength - 1 : MaxStoredLength)];

    public static string Neutralized(string? value) => value is { Length: > 0 } && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + value : value ?? "";

    public static readonly string[] Header = ["line", "email", "status", "invitationId", "error"];

    // The header is written even when there are no rows.
    public static SepWriter Writer(TextWriter output)
    {
        var writer = Sep.New(',').Writer(o => o with { Escape = true }).To(output);
        writer.Header.Add(Header);
        return writer;
    }

    public static void Write(SepWriter writer, ImportResult result)
    {
        using var row = writer.NewRow();
        row["line"].Format(result.Line);
        row["email"].Set(Neutralized(result.Email));
        row["status"].Set(result.Status.ToString());
        row["invitationId"].Set(result.InvitationId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "");
        row["error"].Set(Neutralized(result.Error));
    }
}
