using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Unicode;
using Fluid;

namespace TenantInvitations.Api;

// Liquid (Fluid) templates for the emails and the accept page: parsed once from files that ship beside the binary.
internal static class Liquid
{
    private static readonly FluidParser Parser = new();

    // Escapes markup (<, >, &, quotes) but leaves letters such as é or ü readable.
    public static readonly HtmlEncoder Html = HtmlEncoder.Create(UnicodeRanges.All);

    public static IFluidTemplate Parse(params string[] path)
    {
        var file = Path.Combine([AppContext.BaseDirectory, .. path]);
        return Parser.TryParse(File.ReadAllText(file), out var template, out var error)
            ? template
            : throw new InvalidOperationException($"The template {file} does not parse: {error}");
    }

    // A date and time the way the language writes it, in UTC. ICU puts narrow no-break spaces in times; plain ones read the same everywhere.
    public static string DateForPeople(DateTime utc, CultureInfo culture) =>
        $"{utc.ToString("f", culture).Replace('\u202F', ' ').Replace('\u00A0', ' ')} UTC";
}
