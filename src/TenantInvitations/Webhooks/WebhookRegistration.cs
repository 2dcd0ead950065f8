using Microsoft.Extensions.Options;
using TenantInvitations.Data;
using TenantInvitations.Events;

namespace TenantInvitations.Webhooks;

// What registering and changing endpoints need, in one service: the URL and type checks, ids, the clock, the secrets.
internal sealed class WebhookRegistration(
    IdGenerator ids, TimeProvider clock, WebhookSecrets secrets, IWebhookNameResolver resolver, IOptions<WebhookOptions> options,
    IHostEnvironment environment)
{
    public IdGenerator Ids => ids;
    public TimeProvider Clock => clock;
    public WebhookSecrets Secrets => secrets;

    public Task<List<string>> UrlProblemsAsync(string? url, CancellationToken cancellationToken) =>
        WebhookAddresses.UrlProblemsAsync(url, options.Value.HttpAllowed(environment), options.Value.AllowPrivateNetworks, resolver, cancellationToken);

    public void CheckTypes(string[]? types, List<string> problems)
    {
        if (types is null)
        {
            return;
        }
        if (types.Length == 0)
        {
            problems.Add("The types field must list at least one event type; leave it out to receive every type.");
        }
        else if (types.Any(t => !EventTypes.IsSubscribable(t)))
        {
            problems.Add($"Each entry of the types field must be one of: {string.Join(", ", EventTypes.Subscribable)}.");
        }
    }

    public static void CheckDescription(string? description, List<string> problems)
    {
        if (description is { Length: > WebhookEndpoint.MaxDescription } || (description is not null && Text.HasControlCharacters(description)))
        {
            problems.Add($"The description field must be at most {WebhookEndpoint.MaxDescription} characters of text on one line.");
        }
    }

    public static List<string>? Normalize(string[]? types) => types is null ? null : [.. types.Distinct(StringComparer.Ordinal)];
}
