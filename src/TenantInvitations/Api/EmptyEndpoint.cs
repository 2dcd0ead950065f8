using Microsoft.Extensions.Options;

namespace TenantInvitations.Api;

internal sealed class DiagnosticsOptions
{
    public bool EmptyEndpoint { get; set; }
}

// GET /diagnostics/empty: an endpoint that does no work behind the whole middleware pipeline (bearer validation
// included), answering the success envelope with no value. It is the HTTP ceiling the benchmarks (bench/) compare
// every endpoint with. Off unless Diagnostics:EmptyEndpoint is true, and never in the OpenAPI document.
internal static class EmptyEndpoint
{
    public static void MapEmptyEndpoint(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<DiagnosticsOptions>>().Value.EmptyEndpoint)
        {
            app.MapGet("/diagnostics/empty", () => ApiResults.Ok<object?>(null)).WithName("Empty").RequireAuthorization().ExcludeFromDescription();
        }
    }
}
