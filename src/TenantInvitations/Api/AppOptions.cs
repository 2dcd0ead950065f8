using System.ComponentModel.DataAnnotations;

namespace TenantInvitations;

internal sealed class AppOptions
{
    [Required(ErrorMessage = "App:PublicBaseUrl is required outside Development: it is the base of the links in emails.")]
    [Url(ErrorMessage = "App:PublicBaseUrl must be an absolute http(s) URL, such as https://invitations.example.com.")]
    public string? PublicBaseUrl { get; set; }

    // Where the accept page sends people once they have joined: your product's sign-in page, for example. Optional.
    [Url(ErrorMessage = "App:AfterAcceptUrl must be an absolute http(s) URL.")]
    public string? AfterAcceptUrl { get; set; }

    public Uri BaseUri => new(PublicBaseUrl!.TrimEnd('/') + "/");

    public string AcceptLink(string token) => new Uri(BaseUri, $"accept?token={Uri.EscapeDataString(token)}").ToString();
}
