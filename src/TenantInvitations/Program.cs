using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Scalar.AspNetCore;
using TenantInvitations;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Console;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Events;
using TenantInvitations.Imports;
using TenantInvitations.Invitations;
using TenantInvitations.Members;
using TenantInvitations.Operations;
using TenantInvitations.Tenants;
using TenantInvitations.Webhooks;

// Commands: `token ...` mints a local bearer token, `migrate` applies migrations; anything else runs the service.
var command = args.FirstOrDefault();
TokenCommand? token = null;
if (command == "token")
{
    (token, var error, args) = TokenCommand.Parse(args[1..]);
    if (token is null)
    {
        Console.Error.WriteLine(error);
        return 2;
    }
}
else if (command == "migrate")
{
    args = args[1..];
}

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
    EnvironmentName = DefaultEnvironment(args),
});
if (token is not null)
{
    try
    {
        return token.Run(builder.Configuration, builder.Environment, TimeProvider.System);
    }
    catch (SettingException bad)
    {
        Console.Error.WriteLine(bad.Message);
        return 1;
    }
}

// A bad setting stops the process here, before anything starts: one line on stderr per problem, exit code 1.
WebApplication app;
try
{
    app = Configure(builder);
    if (Settings.Problems(app.Services) is { Count: > 0 } problems)
    {
        problems.ForEach(Console.Error.WriteLine);
        return 1;
    }
}
catch (SettingException bad)
{
    Console.Error.WriteLine(bad.Message);
    return 1;
}

if (command == "migrate")
{
    await Storage.PrepareAsync(app.Services, migrate: true);
    Console.WriteLine("Migrations applied.");
    return 0;
}
await Storage.PrepareAsync(app.Services, app.Services.GetRequiredService<IOptions<StorageOptions>>().Value.MigrateOnStart);
// Outside Development, emails that only land in a folder are worth one line at start.
if (!app.Environment.IsDevelopment() && app.Services.GetRequiredService<IOptions<EmailOptions>>().Value is { } email && string.IsNullOrWhiteSpace(email.Smtp.Host))
{
    app.Logger.LogWarning("No Email:Smtp:Host is set, so invitation emails are not sent: they are written as .eml files to {PickupDirectory}. Set Email:Smtp:Host to send them.",
        Path.GetFullPath(email.PickupDirectory));
}

app.UseMetricsEndpoint();
app.UseTraceIdHeader();
app.UseTrustedProxies();
app.UseSecurityHeaders();
app.Use(app.Services.GetRequiredService<RequestDrain>().InvokeAsync);
app.UseEnvelopeErrors();
app.UseHostChecks();
app.UseRateLimiter();
app.UseConsoleHeaders();
app.UseAuthentication();
app.UseAuthorization();

app.MapOpenApi().AllowAnonymous();
if (app.Environment.IsDevelopment())
{
    app.MapScalarApiReference("/docs").AllowAnonymous();
}
app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") }).AllowAnonymous();

app.MapTenants();
app.MapTenantSettings();
app.MapInvitations();
app.MapImports();
app.MapEmailPreview();
app.MapMembers();
app.MapAudit();
app.MapEvents();
app.MapWebhooks();
app.MapWebhookDeliveries();
app.MapInvitee();
app.MapAcceptPage();
app.MapConsole();
app.MapEmptyEndpoint();

await app.RunAsync();
return 0;

// Every service and setting of the program; SettingException for a setting that can't be used.
static WebApplication Configure(WebApplicationBuilder builder)
{
    builder.Services.AddSettings<AppOptions>("App").ValidateOnStart();
    if (builder.Environment.IsDevelopment())
    {
        builder.Services.PostConfigure<AppOptions>(o => o.PublicBaseUrl ??= "http://localhost:5080");
    }
    builder.Services.AddSettings<InvitationOptions>("Invitations").ValidateOnStart();
    builder.Services.AddSettings<EmailOptions>("Email").ValidateOnStart();
    // The SMTP settings are checked on their own: annotations on nested objects are not validated with their parent.
    builder.Services.AddSettings<SmtpOptions>("Email:Smtp")
        .Validate(o => MimeKit.MailboxAddress.TryParse(o.From, out _), "Email:Smtp:From must be an address such as 'Acme <no-reply@acme.example>'.")
        .ValidateOnStart();
    builder.Services.AddSettings<EventOptions>("Events").ValidateOnStart();
    builder.Services.AddSettings<DiagnosticsOptions>("Diagnostics");
    builder.Services.AddSettings<WebhookOptions>("Webhooks")
        .Validate(o => o.LeaseDuration >= 2 * o.Timeout, "Webhooks:LeaseDuration must be at least twice Webhooks:Timeout.")
        .ValidateOnStart();
    builder.Services.AddSingleton(TimeProvider.System);

    builder.Services.ConfigureHttpJsonOptions(json => ApiJson.Configure(json.SerializerOptions));
    builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

    builder.AddTelemetry();
    builder.AddHardening();
    builder.AddStorage();
    builder.AddInvitationAuth();
    builder.AddConsole();
    builder.Services.AddDataProtection().SetApplicationName("TenantInvitations").PersistKeysToDbContext<AppDbContext>();
    builder.Services.AddAntiforgery(o =>
    {
        o.Cookie.Name = "invitations-antiforgery";
        o.Cookie.SameSite = SameSiteMode.Strict;
        o.FormFieldName = "_antiforgery";
    });
    builder.Services.AddSingleton<DatabaseHealthCheck>();
    builder.AddTrustedProxies();
    builder.AddTokenRateLimit();
    builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
    builder.Services.AddInvitationOpenApi();

    builder.Services.AddSingleton<OutboxSignal>();
    builder.Services.AddSingleton<EmailOutbox>();
    builder.Services.AddSingleton<InvitationEmailRenderer>();
    // With Email:Smtp:Host set, emails go over SMTP; otherwise they are written to the pickup directory.
    builder.Services.AddSingleton<IEmailSender>(services => services.GetRequiredService<IOptions<EmailOptions>>().Value is var email && !string.IsNullOrWhiteSpace(email.Smtp.Host)
        ? new SmtpEmailSender(email.Smtp)
        : new PickupDirectorySender(Path.GetFullPath(email.PickupDirectory)));
    builder.Services.AddHostedService<OutboxDispatcher>();
    builder.Services.AddHostedService<ExpirySweeper>();
    builder.Services.AddHostedService<EventRetention>();
    builder.Services.AddHostedService<IdempotencyKeyRetention>();
    builder.Services.AddSettings<ImportOptions>("Imports").ValidateOnStart();
    builder.Services.AddSingleton<ImportSignal>();
    builder.Services.AddHostedService<ImportRunner>();
    builder.Services.AddHostedService<ImportRetention>();
    builder.AddWebhookDelivery();
    builder.Services.AddSingleton<RequestDrain>();
    builder.Services.AddHostedService(services => services.GetRequiredService<RequestDrain>());

    return builder.Build();
}

// `dotnet run` builds Debug and so defaults to Development, where the embedded defaults need no settings;
// a published (Release) build defaults to Production. ASPNETCORE_ENVIRONMENT or --environment always win.
static string? DefaultEnvironment(string[] args)
{
#if DEBUG
    var configured = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT");
    return configured is null && !args.Any(a => a.StartsWith("--environment", StringComparison.OrdinalIgnoreCase)) ? Environments.Development : null;
#else
    return null;
#endif
}

public partial class Program;
