using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware.Options;
using TenantInvitations.Client.Generated;

namespace TenantInvitations.Client;

/// <summary>
/// The entry point: the generated request builders (<see cref="Api"/>) over an HTTP pipeline that never repeats a request by
/// itself, and that turns every error answer into a <see cref="TenantInvitationsException"/>.
/// </summary>
public sealed class TenantInvitationsClient : IDisposable
{
    private readonly HttpClientRequestAdapter adapter;
    private readonly HttpClient? ownedHttpClient;

    /// <summary>Creates a client for the service at <paramref name="baseUrl"/>.</summary>
    /// <param name="baseUrl">The service's absolute http or https address, such as <c>https://invitations.example.com</c>.</param>
    /// <param name="accessToken">
    /// Gives the bearer token for each request; null, or a null or empty token, sends none (the invitee endpoints need none).
    /// The token is only sent to <paramref name="baseUrl"/>'s scheme, host and port.
    /// </param>
    /// <param name="httpClient">
    /// An HttpClient of your own, which the client doesn't dispose. Its handlers are yours: build it from
    /// <see cref="CreateHandlers"/> to keep the guarantees of this type (no automatic retry, an exception for any error body).
    /// </param>
    /// <exception cref="ArgumentException">The address is not an absolute http or https URL.</exception>
    public TenantInvitationsClient(string baseUrl, Func<CancellationToken, ValueTask<string?>>? accessToken = null, HttpClient? httpClient = null)
    {
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException(
                "The base URL must be an absolute http or https URL, such as https://invitations.example.com.", nameof(baseUrl));
        }
        IAuthenticationProvider authentication = accessToken is null
            ? new AnonymousAuthenticationProvider()
            : new BearerTokenAuthentication(uri, accessToken);
        ownedHttpClient = httpClient is null ? KiotaClientFactory.Create(CreateHandlers()) : null;
        adapter = new HttpClientRequestAdapter(authentication, httpClient: httpClient ?? ownedHttpClient)
        {
            // The generated paths start with '/', so the base ends without one.
            BaseUrl = uri.GetLeftPart(UriPartial.Path).TrimEnd('/'),
        };
        Api = new InvitationsApi(new EnvelopeErrorAdapter(adapter));
    }

    /// <summary>The generated request builders, for example <c>Api.Tenant[id].Admin.User.Invitation.GetAsync()</c>.</summary>
    public InvitationsApi Api { get; }

    /// <summary>
    /// The handlers this client's own HttpClient is built from, for an HttpClient you build yourself
    /// (<c>KiotaClientFactory.Create(TenantInvitationsClient.CreateHandlers())</c>). Each call makes new handlers.
    /// </summary>
    public static IList<DelegatingHandler> CreateHandlers() =>
    [
        // Outermost, so it sees the answer after redirects: an error answer that isn't a JSON object loses its body here,
        // so Kiota raises its status instead of failing to parse a proxy's HTML by its content type.
        new ErrorBodyGuard(),
        // Kiota's defaults, named one by one rather than filtered, so that an upgrade can't bring a retrying handler in.
        // RetryHandler is left out on purpose: it waits out Retry-After and sends the request again, so a resend refused
        // with 429 slept through the cooldown and then sent a second email. Nothing here repeats a request; a redirect
        // is followed (at most 5, never to another scheme, Authorization dropped on another host), which the server asks for.
        new UriReplacementHandler<UriReplacementHandlerOption>(),
        new RedirectHandler(),
        new ParametersNameDecodingHandler(),
        new UserAgentHandler(new UserAgentHandlerOption { ProductName = "TenantInvitations.Client", ProductVersion = "1.0.0" }),
        // Lets a caller read response headers, such as the Link of the next page (see Paging).
        new HeadersInspectionHandler(),
        new BodyInspectionHandler(),
    ];

    /// <summary>Disposes the HttpClient this client created (never one that was passed in).</summary>
    public void Dispose()
    {
        adapter.Dispose();
        ownedHttpClient?.Dispose();
    }
}
