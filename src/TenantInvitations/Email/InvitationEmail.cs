using System.Globalization;
using System.Text.RegularExpressions;
using Fluid;
using MimeKit;
using TenantInvitations.Api;
using TenantInvitations.Invitations;
using TenantInvitations.Members;
using TenantInvitations.Tenants;

namespace TenantInvitations.Email;

// Everything an invitation email says. Values are plain text; the HTML template encodes them.
// Locales are tried in order (the invitation's, then the tenant's default); English is the last resort.
internal sealed record InvitationEmailContent(
    string TenantName, string InvitedBy, MemberRole Role, DateTime ExpiresAt, string? Message, string AcceptLink, IReadOnlyList<string?> Locales)
{
    public static InvitationEmailContent For(Invitation invitation, Tenant tenant, string acceptLink) => new(
        tenant.NameInEmails, invitation.InvitedBy, invitation.Role, invitation.ExpiresAt, invitation.Message, acceptLink,
        [invitation.Locale, tenant.DefaultLocale]);
}

internal sealed record RenderedEmail(string Subject, string Html, string Text, string Locale);

// Renders invitation emails from the Liquid templates in Email/Templates: a shared HTML layout and, per language,
// a subject, an HTML body and a plain-text body.
internal sealed partial class InvitationEmailRenderer
{
    public const string DefaultLocale = "en";
    private readonly Dictionary<string, (IFluidTemplate Subject, IFluidTemplate Html, IFluidTemplate Text)> languages;
    private readonly IFluidTemplate layout = Liquid.Parse("Email", "Templates", "layout.html.liquid");
    private readonly TemplateOptions options = new();

    public InvitationEmailRenderer()
    {
        languages = Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "Email", "Templates")).ToDictionary(
            directory => Path.GetFileName(directory),
            directory => (Liquid.Parse("Email", "Templates", Path.GetFileName(directory), "subject.liquid"),
                          Liquid.Parse("Email", "Templates", Path.GetFileName(directory), "body.html.liquid"),
                          Liquid.Parse("Email", "Templates", Path.GetFileName(directory), "body.txt.liquid")),
            StringComparer.OrdinalIgnoreCase);
        if (!languages.ContainsKey(DefaultLocale))
        {
            throw new InvalidOperationException($"The email templates have no '{DefaultLocale}' folder.");
        }
    }

    // The first wanted locale with templates, by exact tag (pt-BR) or by its language (pt); else English.
    public string ResolveLocale(IEnumerable<string?> wanted) =>
        wanted.OfType<string>()
            .SelectMany(tag => new[] { tag, tag.Split('-')[0] })
            .FirstOrDefault(languages.ContainsKey) is { } found
            ? languages.Keys.First(k => string.Equals(k, found, StringComparison.OrdinalIgnoreCase))
            : DefaultLocale;

    public async Task<RenderedEmail> RenderAsync(InvitationEmailContent content)
    {
        var locale = ResolveLocale(content.Locales);
        var (subjectTemplate, htmlTemplate, textTemplate) = languages[locale];
        var culture = CultureInfo.GetCultureInfo(locale);
        var context = new TemplateContext(options) { CultureInfo = culture };
        context.SetValue("lang", locale);
        context.SetValue("tenant", content.TenantName);
        context.SetValue("inviter", content.InvitedBy);
        context.SetValue("role", content.Role.ToString());
        context.SetValue("message", content.Message ?? "");
        context.SetValue("link", content.AcceptLink);
        context.SetValue("expires", Liquid.DateForPeople(content.ExpiresAt, culture));

        // A subject is one header line whatever the values hold.
        var subject = Whitespace().Replace(await subjectTemplate.RenderAsync(context, NullEncoder.Default), " ").Trim();
        var text = await textTemplate.RenderAsync(context, NullEncoder.Default);
        context.SetValue("subject", subject);
        context.SetValue("body", await htmlTemplate.RenderAsync(context, Liquid.Html));
        var html = await layout.RenderAsync(context, Liquid.Html);
        return new RenderedEmail(subject, html, text, locale);
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
        message.Body.Headers.Add(HeaderId.ContentLanguage, email.Locale);
        return message;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
