using System.Text.Json;
using System.Text.RegularExpressions;

namespace TenantInvitations.Bench;

// The pgbench baselines must send what the service sends. The service is run once with EF Core's command log on
// (Microsoft.EntityFrameworkCore.Database.Command at Information, JSON console logs with scopes), one create and one resend
// are made, and each request's statements are read from its log scope. They are compared, statement by statement, with
// the pgbench scripts once parameters, literals and NULLs are set aside (the scripts send variables where the service
// sends parameters) and BEGIN/COMMIT (which EF logs as transaction events, not commands) are left out.
internal static partial class SqlCapture
{
    public static readonly (string Key, string Value)[] LoggingSettings =
    [
        ("Logging__Console__FormatterName", "json"),
        ("Logging__Console__FormatterOptions__IncludeScopes", "true"),
        ("Logging__LogLevel__Microsoft.EntityFrameworkCore.Database.Command", "Information"),
    ];

    // The SQL texts the request to this path ran, in order.
    public static List<string> CommandsOf(string logPath, string requestPath)
    {
        var commands = new List<string>();
        foreach (var line in File.ReadLines(logPath))
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }
            using var entry = JsonDocument.Parse(line);
            var root = entry.RootElement;
            if (root.GetProperty("Category").GetString() != "Microsoft.EntityFrameworkCore.Database.Command"
                || root.GetProperty("EventId").GetInt32() != 20101
                || !root.TryGetProperty("Scopes", out var scopes)
                || !scopes.EnumerateArray().Any(s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("RequestPath", out var p) && p.GetString() == requestPath))
            {
                continue;
            }
            commands.Add(root.GetProperty("State").GetProperty("commandText").GetString()!);
        }
        return commands;
    }

    // Differences between what the service ran and what the script runs; empty when they are the same statements.
    public static List<string> Compare(IEnumerable<string> captured, string pgbenchScript)
    {
        var service = captured.SelectMany(Statements).ToList();
        var scriptText = string.Join('\n', File.ReadLines(pgbenchScript)
            .Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal) && !l.TrimStart().StartsWith('\\'))
            .Select(l => GsetSuffix().Replace(l, ";")));
        var script = Statements(scriptText).Where(s => s is not ("BEGIN" or "COMMIT")).ToList();
        var differences = new List<string>();
        for (var i = 0; i < Math.Max(service.Count, script.Count); i++)
        {
            var mine = i < service.Count ? service[i] : "(nothing)";
            var theirs = i < script.Count ? script[i] : "(nothing)";
            if (mine != theirs)
            {
                differences.Add($"statement {i + 1}: the service ran\n  {mine}\nthe script runs\n  {theirs}");
            }
        }
        return differences;
    }

    // Comment lines aside: the service's one-round-trip command starts with one (OneRoundTrip.Marker).
    private static IEnumerable<string> Statements(string sql) =>
        string.Join('\n', sql.Split('\n').Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal)))
            .Split(';').Select(Normalize).Where(s => s.Length > 0);

    private static string Normalize(string statement)
    {
        var s = Literal().Replace(statement, "?");
        s = Parameter().Replace(s, "?");
        s = Constant().Replace(s, "?");
        return Whitespace().Replace(s, " ").Trim();
    }

    [GeneratedRegex(@"\\gset\s*\w*\s*$")]
    private static partial Regex GsetSuffix();

    [GeneratedRegex(@"'(?:[^']|'')*'")]
    private static partial Regex Literal();

    [GeneratedRegex(@"@\w+|(?<![:\w]):\w+")]
    private static partial Regex Parameter();

    [GeneratedRegex(@"\b(?:NULL|TRUE|FALSE|\d+)\b", RegexOptions.IgnoreCase)]
    private static partial Regex Constant();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
