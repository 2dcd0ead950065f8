using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;

namespace TenantInvitations.Client;

// Adds "Authorization: Bearer …" from the caller's token function, only for the service's own origin, so a raw URL
// (WithUrl) pointing elsewhere never carries the token.
internal sealed class BearerTokenAuthentication(Uri service, Func<CancellationToken, ValueTask<string?>> accessToken) : IAuthenticationProvider
{
    private const string Authorization = "Authorization";

    public async Task AuthenticateRequestAsync(
        RequestInformation request, Dictionary<string, object>? additionalAuthenticationContext = null, CancellationToken cancellationToken = default)
    {
        if (request.Headers.ContainsKey(Authorization) || Uri.Compare(request.URI, service,
                UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) != 0)
        {
            return;
        }
        var token = await accessToken(cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(token))
        {
            request.Headers.Add(Authorization, $"Bearer {token}");
        }
    }
}
