using Fluid;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Members;
using TenantInvitations.Tenants;

namespace TenantInvitations.Invitations;

// GET /accept?token=T is the page the email links to: server-rendered HTML that works without JavaScript.
// Opening it (GET or HEAD) changes nothing, so mail scanners that follow links don't use up the token;
// its Accept and Decline buttons POST behind antiforgery protection.
internal static class AcceptPage
{
    private static IFluidTemplate template = null!;
    private static readonly TemplateOptions Options = new();

    public static void MapAcceptPage(this IEndpointRouteBuilder app)
    {
        template = Liquid.Parse("Invitations", "Pages", "accept.liquid"); // at start: a broken template stops the service
        var page = app.MapGroup("/accept").AllowAnonymous().ExcludeFromDescription()
            .RequireRateLimiting(TokenRateLimit.Policy).WithMetadata(new PageEndpoint());
        page.MapMethods("", [HttpMethods.Get, HttpMethods.Head], ShowAsync);
        page.MapPost("", AnswerAsync);
    }

    // Marks the page's endpoints, so that a client over the token rate limit is answered with a page there.
    internal sealed class PageEndpoint;

    public static async Task RateLimitedAsync(HttpContext http, TimeSpan retryAfter)
    {
        http.Response.Headers.RetryAfter = Failure.RetryAfterSeconds(retryAfter).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await (await RenderAsync(http, StatusCodes.Status429TooManyRequests, new View("rate-limited"))).ExecuteAsync(http);
    }

    private static async Task<IResult> ShowAsync(string? token, HttpContext http, AppDbContext db, IAntiforgery antiforgery,
        IOptions<InvitationOptions> options, IOptions<AppOptions> app, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (InvitationAnswers.TokenProblem(token) is not null)
        {
            return await RenderAsync(http, StatusCodes.Status404NotFound, new View("unknown"));
        }
        var (invitation, failure) = await InvitationAnswers.FindAsync(db, token!, cancellationToken);
        if (failure is not null)
        {
            return await RenderAsync(http, failure.StatusCode ?? 404, new View(failure.Error.Code == ErrorCode.InvitationSuperseded ? "superseded" : "unknown"));
        }
        var tenant = await db.Tenants.AsNoTracking().SingleAsync(t => t.Id == invitation!.TenantId, cancellationToken);
        var view = View.Of(invitation!, tenant, clock.UtcNow(), app.Value) with { CanAccept = !options.Value.RequireSignedInAccept };
        if (view.State == "pending")
        {
            var tokens = antiforgery.GetAndStoreTokens(http);
            view = view with { FormField = tokens.FormFieldName, FormToken = tokens.RequestToken };
        }
        return await RenderAsync(http, view.State is "expired" or "revoked" ? StatusCodes.Status410Gone : StatusCodes.Status200OK, view);
    }

    private static async Task<IResult> AnswerAsync(HttpContext http, AppDbContext db, IdGenerator ids, IAntiforgery antiforgery,
        IOptions<InvitationOptions> options, IOptions<AppOptions> app, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (!http.Request.HasFormContentType || !await IsValidFormAsync(http, antiforgery))
        {
            return await RenderAsync(http, StatusCodes.Status400BadRequest, new View("expired-form"));
        }
        var form = await http.Request.ReadFormAsync(cancellationToken);
        // The page's form has no action, so it posts back to the link it was opened with: the token stays in that URL and
        // never appears in the page. A token field is still read, for a page rendered before this was so.
        var token = form.TryGetValue("token", out var posted) ? posted.ToString() : http.Request.Query["token"].ToString();
        var decision = form["decision"].ToString();
        if (InvitationAnswers.TokenProblem(token) is not null || decision is not ("accept" or "decline"))
        {
            return await RenderAsync(http, StatusCodes.Status400BadRequest, new View("unknown"));
        }
        var caller = Caller.From(http);
        var failure = decision == "accept" && !options.Value.RequireSignedInAccept
            ? (await InvitationAnswers.AcceptAsync(db, ids, caller, token, options.Value, clock, cancellationToken)).Failure
            : decision == "decline" ? (await InvitationAnswers.DeclineAsync(db, ids, caller, token, options.Value, clock, cancellationToken)).Failure
            : null;

        // Show the invitation as it is now: just joined or declined, or whatever state beat this answer to it.
        var (invitation, notFound) = await InvitationAnswers.FindAsync(db, token, cancellationToken);
        if (notFound is not null)
        {
            return await RenderAsync(http, notFound.StatusCode ?? 404, new View(notFound.Error.Code == ErrorCode.InvitationSuperseded ? "superseded" : "unknown"));
        }
        var tenant = await db.Tenants.AsNoTracking().SingleAsync(t => t.Id == invitation!.TenantId, cancellationToken);
        var view = View.Of(invitation!, tenant, clock.UtcNow(), app.Value) with { CanAccept = !options.Value.RequireSignedInAccept };
        return (failure?.Error.Code, view.State) switch
        {
            (ErrorCode.AlreadyMember, _) => await RenderAsync(http, StatusCodes.Status409Conflict, view with { State = "already-member" }),
            (null, "accepted") => await RenderAsync(http, StatusCodes.Status200OK, view with { State = "joined" }),
            (null, "declined") => await RenderAsync(http, StatusCodes.Status200OK, view with { State = "declined-now" }),
            (null, "pending") => await ShowAsync(token, http, db, antiforgery, options, app, clock, cancellationToken),
            _ => await RenderAsync(http, view.State is "expired" or "revoked" ? StatusCodes.Status410Gone : StatusCodes.Status409Conflict, view),
        };
    }

    private static async Task<bool> IsValidFormAsync(HttpContext http, IAntiforgery antiforgery)
    {
        try
        {
            return await antiforgery.IsRequestValidAsync(http);
        }
        catch (Exception exception) when (exception is InvalidDataException or IOException or AntiforgeryValidationException or BadHttpRequestException)
        {
            return false; // a malformed or oversized form
        }
    }

    private static async Task<IResult> RenderAsync(HttpContext http, int statusCode, View view)
    {
        var context = new TemplateContext(Options);
        context.SetValue("state", view.State);
        context.SetValue("title", view.Title);
        context.SetValue("tenant", view.Tenant ?? "");
        context.SetValue("inviter", view.Inviter ?? "");
        context.SetValue("role", view.Role?.ToString() ?? "");
        context.SetValue("role_name", view.Role switch { MemberRole.Owner => "an Owner", MemberRole.Admin => "an Admin", _ => "a Member" });
        context.SetValue("email", view.Email ?? "");
        context.SetValue("expires", view.Expires ?? "");
        context.SetValue("continue_url", view.ContinueUrl ?? "");
        context.SetValue("can_accept", view.CanAccept);
        context.SetValue("form_field", view.FormField ?? "");
        context.SetValue("form_token", view.FormToken ?? "");
        var headers = http.Response.Headers;
        headers.CacheControl = "no-store";
        headers["Referrer-Policy"] = "no-referrer";
        headers["X-Content-Type-Options"] = "nosniff";
        headers["X-Frame-Options"] = "DENY";
        headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        return Results.Content(await template.RenderAsync(context, Liquid.Html), "text/html; charset=utf-8", statusCode: statusCode);
    }

    private sealed record View(string State)
    {
        public string? Tenant { get; init; }
        public string? Inviter { get; init; }
        public MemberRole? Role { get; init; }
        public string? Email { get; init; }
        public string? Expires { get; init; }
        public string? ContinueUrl { get; init; }
        public bool CanAccept { get; init; }
        public string? FormField { get; init; }
        public string? FormToken { get; init; }

        public string Title => State switch
        {
            "pending" => $"Join {Tenant}",
            "joined" => $"You have joined {Tenant}",
            "unknown" or "superseded" or "expired-form" or "rate-limited" => "Invitation",
            _ => $"Invitation to {Tenant}",
        };

        public static View Of(Invitation invitation, Tenant tenant, DateTime now, AppOptions app) =>
            new(invitation.StatusAt(now).ToString().ToLowerInvariant())
            {
                Tenant = tenant.NameInEmails,
                Inviter = invitation.InvitedBy,
                Role = invitation.Role,
                Email = EmailAddress.Mask(invitation.Email),
                Expires = Liquid.DateForPeople(invitation.ExpiresAt, System.Globalization.CultureInfo.GetCultureInfo("en")),
                ContinueUrl = app.AfterAcceptUrl,
            };
    }
}
