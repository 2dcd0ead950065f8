using System.Globalization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using MimeKit;
using TenantInvitations.Members;

namespace TenantInvitations.Email;

// Everything an invitation email says. Values are plain text; the HTML template encodes them.
// Public only because the Razor component that renders it is.
public sealed record InvitationEmailContent(
    string TenantName, string InvitedBy, MemberRole Role, DateTime ExpiresAt, string? Message, string AcceptLink, string Locale)
{
    public string Subject => $"{InvitedBy} invited you to join {TenantName}";
    public string RoleName => Role switch { MemberRole.Owner => "an Owner", MemberRole.Admin => "an Admin", _ => "a Member" };
    public string ExpiresText => ExpiresAt.ToString("dddd, d MMMM yyyy 'at' HH:mm 'UTC'", CultureInfo.InvariantCulture);
}

internal sealed record RenderedEmail(string Subject, string Html, string Text);

internal sealed class InvitationEmailRenderer(IServiceProvider services, ILoggerFactory loggers)
{
    public async Task<RenderedEmail> RenderAsync(InvitationEmailContent content)
    {
        await using var renderer = new HtmlRenderer(services, loggers);
        var html = await renderer.Dispatcher.InvokeAsync(async () =>
        {
            var parameters = ParameterView.FromDictionary(new Dictionary<string, object?> { [nameof(InvitationEmailHtml.Content)] = content });
            return (await renderer.RenderComponentAsync<InvitationEmailHtml>(parameters)).ToHtmlString();
        });
        return new RenderedEmail(content.Subject, html, PlainText(content));
    }

    private static string PlainText(InvitationEmailContent content)
    {
        var message = content.Message is { Length: > 0 } m ? $"\n{content.InvitedBy} wrote:\n\n{m}\n" : "";
        return $"""
            {content.InvitedBy} has invited you to join {content.TenantName} as {content.RoleName}.
            {message}
            Review the invitation here:
            {content.AcceptLink}

            This invitation expires on {content.ExpiresText}.

            If you were not expecting this invitation, you can ignore this email.

            """;
    }

    public static MimeMessage ToMime(RenderedEmail email, string from, string to, string? replyTo, string messageId, DateTime date)
    {
        var message = new MimeMessage { Subject = email.Subject, MessageId = messageId, Date = date };
        message.From.Add(MailboxAddress.Parse(from));
        message.To.Add(MailboxAddress.Parse(to));
        if (replyTo is not null)
        {
            message.ReplyTo.Add(MailboxAddress.Parse(replyTo));
        }
        message.Body = new BodyBuilder { TextBody = email.Text, HtmlBody = email.Html }.ToMessageBody();
        return message;
    }
}
