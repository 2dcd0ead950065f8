using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Core.Infrastructure;
using Microsoft.AspNetCore.Mvc.Filters;
using TenantInvitations.Api;

namespace TenantInvitations.Console;

// A console form whose antiforgery token is missing or stale (a tab left open past a sign-out, a forged cross-site post) is
// answered with a page saying what to do, not the framework's empty 400; nothing was done. A form too large to be read at
// all fails the same check (the token is in the body), and is told so instead.
internal sealed class ExpiredFormFilter : IAlwaysRunResultFilter
{
    public void OnResultExecuting(ResultExecutingContext context)
    {
        if (context.Result is not IAntiforgeryValidationFailedResult)
        {
            return;
        }
        var http = context.HttpContext;
        var limit = http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        context.Result = limit is { } max && http.Request.ContentLength > max
            ? new Page(StatusCodes.Status413PayloadTooLarge, new ApiError(ErrorCode.PayloadTooLarge, "The request body is too large.", []), null)
            : new Page(StatusCodes.Status400BadRequest, new ApiError(ErrorCode.ValidationError,
                "Nothing was changed. Go back, reload the page and try again.", []), "This form has expired");
    }

    public void OnResultExecuted(ResultExecutedContext context)
    {
    }

    private sealed class Page(int status, ApiError error, string? title) : IActionResult
    {
        public Task ExecuteResultAsync(ActionContext context) => ErrorPage.WriteAsync(context.HttpContext, status, error, title);
    }
}
