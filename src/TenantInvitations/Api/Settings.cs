using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Options;

namespace TenantInvitations;

// A setting the service can't start with, found while it is being set up: Program prints the message alone and exits 1.
internal sealed class SettingException(string message) : Exception(message);

// A section of configuration bound to an options class; Settings.Problems checks each before the host starts.
internal sealed record BoundSettings(string Section, Type Type);

// Every setting is checked before anything starts, so a bad one stops the process with one line per problem, naming the
// setting, what is wrong with its value and what is valid, and exit code 1: no stack trace, no message twice.
internal static class Settings
{
    // Binds the section to T, validated by its annotations (and any Validate added) in Problems.
    public static OptionsBuilder<T> AddSettings<T>(this IServiceCollection services, string section) where T : class
    {
        services.AddSingleton(new BoundSettings(section, typeof(T)));
        return services.AddOptions<T>().BindConfiguration(section).ValidateDataAnnotations();
    }

    public static List<string> Problems(IServiceProvider services)
    {
        var configuration = services.GetRequiredService<IConfiguration>();
        var bound = services.GetServices<BoundSettings>().DistinctBy(b => b.Type).ToList();
        // First the values that are not of their setting's type; the rest is read as if those were not set, so every other
        // problem is found too (a section with a nested one, such as Email and Email:Smtp, would otherwise fail to bind).
        var problems = new List<string>();
        var unreadable = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (section, type) in bound)
        {
            var (wrong, keys) = ConversionProblems(type, configuration, section);
            problems.AddRange(wrong);
            unreadable.UnionWith(keys);
        }
        // A copy without them (a chained configuration would not bind an empty value, which Required must see).
        var readable = new ConfigurationBuilder()
            .AddInMemoryCollection(configuration.AsEnumerable().Where(setting => !unreadable.Contains(setting.Key))).Build();
        foreach (var (section, type) in bound)
        {
            var check = typeof(Settings).GetMethod(nameof(Check), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(type);
            problems.AddRange((IEnumerable<string>)check.Invoke(null, [services, readable, section, unreadable])!);
        }
        foreach (var url in (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try
            {
                Microsoft.AspNetCore.Http.BindingAddress.Parse(url);
            }
            catch (FormatException)
            {
                problems.Add($"Urls must be addresses to listen on, such as http://127.0.0.1:5080 or http://*:5080, separated by ';'; '{url}' is not one.");
            }
        }
        return [.. problems.Distinct()];
    }

    private static List<string> Check<T>(IServiceProvider services, IConfiguration readable, string section, HashSet<string> unreadable)
        where T : class, new()
    {
        // The options as the service would see them (bound, values of the wrong type left at their defaults, post-configured),
        // then each property's rules, then the rules across properties (Validate) once every property of the section is fine.
        var problems = new List<string>();
        var options = new T();
        readable.GetSection(section).Bind(options);
        foreach (var postConfigure in services.GetServices<IPostConfigureOptions<T>>())
        {
            postConfigure.PostConfigure(Options.DefaultName, options);
        }
        foreach (var property in typeof(T).GetProperties().Where(p => p.CanWrite && !unreadable.Contains($"{section}:{p.Name}")))
        {
            var value = property.GetValue(options);
            if (property.GetCustomAttributes<ValidationAttribute>().FirstOrDefault(rule => !rule.IsValid(value)) is { } broken)
            {
                var shown = value is null or "" ? "it is not set" : IsSecret(property.Name) ? "the value set is not shown" : $"it is '{Shown(value)}'";
                problems.Add($"{Describe($"{section}:{property.Name}", broken)}; {shown}.");
            }
        }
        if (problems.Count > 0 || unreadable.Any(key => key.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase)))
        {
            return problems;
        }
        foreach (var validator in services.GetServices<IValidateOptions<T>>().Where(v => v is not DataAnnotationValidateOptions<T>))
        {
            if (validator.Validate(Options.DefaultName, options) is { Failed: true } failed)
            {
                problems.AddRange(failed.Failures ?? []);
            }
        }
        return problems;
    }

    // What a rule asks of a setting, in words that name it and give the valid range.
    private static string Describe(string setting, ValidationAttribute rule) => rule switch
    {
        RangeAttribute range when range.OperandType == typeof(TimeSpan) => $"{setting} must be a time span{Bounds(range)}",
        RangeAttribute range => $"{setting} must be{Bounds(range)}",
        _ when rule.ErrorMessage is { } message => Trim(message),
        RequiredAttribute => $"{setting} is required",
        _ => $"{setting} is not valid",
    };

    // Values that are not of their property's type: the binder would throw on the first; each is named here.
    private static (List<string> Problems, HashSet<string> Keys) ConversionProblems(Type options, IConfiguration configuration, string section)
    {
        var problems = new List<string>();
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in options.GetProperties().Where(p => p.CanWrite))
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var key = $"{section}:{property.Name}";
            var value = configuration[key];
            if (value is null || type == typeof(string) || !(type.IsPrimitive || type.IsEnum || type == typeof(TimeSpan)))
            {
                continue;
            }
            if (!Converts(type, value))
            {
                var range = property.GetCustomAttribute<RangeAttribute>() is { } rule ? Bounds(rule) : "";
                problems.Add($"{key} must be {Kind(type)}{range}; it is '{value}'.");
                keys.Add(key);
            }
        }
        return (problems, keys);
    }

    // A section read while the service is being set up (before Problems can run): a value of the wrong type stops it the same way.
    public static T Read<T>(IConfiguration configuration, string section) where T : class, new() =>
        ConversionProblems(typeof(T), configuration, section).Problems is { Count: > 0 } problems
            ? throw new SettingException(string.Join(Environment.NewLine, problems))
            : configuration.GetSection(section).Get<T>() ?? new T();

    private static bool Converts(Type type, string value)
    {
        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException or NotSupportedException or OverflowException
            || exception.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static string Kind(Type type) =>
        type == typeof(TimeSpan) ? "a time span (hh:mm:ss or d.hh:mm:ss)"
        : type == typeof(bool) ? "true or false"
        : type.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(type))}"
        : type == typeof(double) || type == typeof(float) ? "a number"
        : "a whole number";

    private static string Shown(object value) => value switch
    {
        // As written in settings: 00:00:00.05, not 00:00:00.0500000.
        TimeSpan span => span.ToString("c") is var text && text.LastIndexOf('.') > text.LastIndexOf(':') ? text.TrimEnd('0').TrimEnd('.') : text,
        IFormattable formattable => formattable.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    // A range as settings write it: " between 00:00:00.05 and 01:00:00", " from 1 to 100".
    private static string Bounds(RangeAttribute range) => range.OperandType == typeof(TimeSpan)
        ? $" between {Shown(AsSpan(range.Minimum))} and {Shown(AsSpan(range.Maximum))}"
        : $" from {range.Minimum} to {range.Maximum}";

    private static TimeSpan AsSpan(object bound) =>
        bound as TimeSpan? ?? TimeSpan.Parse(Convert.ToString(bound, System.Globalization.CultureInfo.InvariantCulture)!, System.Globalization.CultureInfo.InvariantCulture);

    // A password or key is never printed, even when it is the problem.
    private static bool IsSecret(string member) =>
        member.Contains("Password", StringComparison.OrdinalIgnoreCase) || member.Contains("Key", StringComparison.OrdinalIgnoreCase)
        || member.Contains("Secret", StringComparison.OrdinalIgnoreCase);

    private static string Trim(string message) => message.TrimEnd('.');
}
