using System.Text.Json;

namespace TenantInvitations.Client;

// Kiota parses an error body by its content type and throws a parsing error (without the status) for text/html or broken
// JSON. Such a body can't be the service's envelope, so it is dropped here; Kiota then raises the status, which
// EnvelopeErrorAdapter turns into a TenantInvitationsException with Code null.
// Kiota's adapter also sends a request again, once, when a 401 challenge carries `claims` (Microsoft Entra's continuous
// access evaluation). The service never asks for claims, and a resend must never go twice, so such a challenge is dropped
// here too: the 401 comes back as an exception like any other.
internal sealed class ErrorBodyGuard : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized
            && response.Headers.WwwAuthenticate.Any(c => c.Parameter?.Contains("claims", StringComparison.OrdinalIgnoreCase) == true))
        {
            var kept = response.Headers.WwwAuthenticate.Where(c => c.Parameter?.Contains("claims", StringComparison.OrdinalIgnoreCase) != true).ToList();
            response.Headers.WwwAuthenticate.Clear();
            kept.ForEach(response.Headers.WwwAuthenticate.Add);
        }
        if ((int)response.StatusCode >= 400 && !await IsJsonObjectAsync(response.Content, cancellationToken).ConfigureAwait(false))
        {
            var body = response.Content;
            response.Content = new ByteArrayContent([]);
            body.Dispose();
        }
        return response;
    }

    private static async Task<bool> IsJsonObjectAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var mediaType = content.Headers.ContentType?.MediaType;
        if (mediaType is null || !(mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
        {
            return false;
        }
        // Buffered, so Kiota reads the same bytes again.
        await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var json = JsonDocument.Parse(await content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            return json.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
