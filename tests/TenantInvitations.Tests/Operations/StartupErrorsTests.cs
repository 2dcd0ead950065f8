namespace TenantInvitations.Tests;

// Every setting of README's configuration table, given a bad value, stops the real program before anything starts: one
// line on stderr naming the setting, what is wrong and what is valid; exit code 1; no stack trace, nothing twice.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class StartupErrorsTests
{
    private const string Key = "--Auth:SigningKey=0123456789abcdef0123456789abcdef";

    public static TheoryData<string[], string> BadSettings() => new()
    {
        { ["--environment", "Production", Key], "App:PublicBaseUrl is required outside Development: it is the base of the links in emails; it is not set." },
        { ["--environment", "Production", Key, "--App:PublicBaseUrl=not-a-url"],
            "App:PublicBaseUrl must be an absolute http(s) URL, such as https://invitations.example.com; it is 'not-a-url'." },
        { ["--environment", "Production", "--App:PublicBaseUrl=https://invitations.example.test"],
            "Auth:Authority (with Auth:Audience) or Auth:SigningKey is required outside Development: set Auth:Authority (and Auth:Audience) for OIDC, or Auth:SigningKey (at least 32 bytes) for locally signed tokens." },
        { ["--App:AfterAcceptUrl=somewhere"], "App:AfterAcceptUrl must be an absolute http(s) URL; it is 'somewhere'." },
        { ["--Storage:Provider=Oracle"], "Storage:Provider must be Sqlite or Postgres; it is 'Oracle'." },
        { ["--Storage:MigrateOnStart=maybe"], "Storage:MigrateOnStart must be true or false; it is 'maybe'." },
        { ["--Storage:Provider=Postgres"],
            "Storage:Provider is Postgres, so ConnectionStrings:Invitations must be set (for example Host=db;Database=invitations;Username=invitations;Password=...)." },
        { ["--Auth:SigningKey=short"], "Auth:SigningKey must be at least 32 bytes long; the key set is shorter." },
        { ["--Auth:Authority=https://id.example.test"],
            "Auth:Audience is required with Auth:Authority: set it to the audience your identity provider puts in tokens for this service." },
        { ["--Auth:RequireHttpsMetadata=maybe"], "Auth:RequireHttpsMetadata must be true or false; it is 'maybe'." },
        { ["--Email:PickupDirectory="], "Email:PickupDirectory is required; it is not set." },
        { ["--Email:Smtp:Port=0"], "Email:Smtp:Port must be from 1 to 65535; it is '0'." },
        { ["--Email:Smtp:Port=smtp"], "Email:Smtp:Port must be a whole number from 1 to 65535; it is 'smtp'." },
        { ["--Email:Smtp:UseTls=yes"], "Email:Smtp:UseTls must be true or false; it is 'yes'." },
        { ["--Email:Smtp:From="], "Email:Smtp:From is required; it is not set." },
        { ["--Email:Smtp:Timeout=00:20:00"], "Email:Smtp:Timeout must be a time span between 00:00:01 and 00:10:00; it is '00:20:00'." },
        { ["--Email:PollInterval=banana"], "Email:PollInterval must be a time span (hh:mm:ss or d.hh:mm:ss) between 00:00:00.05 and 01:00:00; it is 'banana'." },
        { ["--Email:RetryBaseDelay=00:00:00"], "Email:RetryBaseDelay must be a time span between 00:00:00.01 and 01:00:00; it is '00:00:00'." },
        { ["--Email:MaxRetryDelay=2.00:00:00"], "Email:MaxRetryDelay must be a time span between 00:00:00.01 and 1.00:00:00; it is '2.00:00:00'." },
        { ["--Email:RetryFor=8.00:00:00"], "Email:RetryFor must be a time span between 00:00:01 and 7.00:00:00; it is '8.00:00:00'." },
        { ["--Email:LeaseDuration=00:00:00"], "Email:LeaseDuration must be a time span between 00:00:01 and 01:00:00; it is '00:00:00'." },
        { ["--Email:BatchSize=0"], "Email:BatchSize must be from 1 to 1000; it is '0'." },
        { ["--Invitations:ResendCooldown=banana"],
            "Invitations:ResendCooldown must be a time span (hh:mm:ss or d.hh:mm:ss) between 00:00:00 and 1.00:00:00; it is 'banana'." },
        { ["--Invitations:MaxSendsPerDay=1000"], "Invitations:MaxSendsPerDay must be from 1 to 100; it is '1000'." },
        { ["--Invitations:DefaultValidityDays=31"], "Invitations:DefaultValidityDays must be from 1 to 30; it is '31'." },
        { ["--Invitations:RequireSignedInAccept=sometimes"], "Invitations:RequireSignedInAccept must be true or false; it is 'sometimes'." },
        { ["--Invitations:EmailsPerHour=0"], "Invitations:EmailsPerHour must be from 1 to 1000000; it is '0'." },
        { ["--RateLimits:TokenRequestsPerMinute=0"], "RateLimits:TokenRequestsPerMinute must be from 1 to 1000000; it is '0'." },
        { ["--RateLimits:TokenRequestsPerMinute=lots"], "RateLimits:TokenRequestsPerMinute must be a whole number from 1 to 1000000; it is 'lots'." },
        { ["--ForwardedHeaders:KnownProxies:0=proxy"], "ForwardedHeaders:KnownProxies must be IP addresses, such as 10.0.0.5." },
        { ["--ForwardedHeaders:KnownNetworks:0=10.0.0.0/99"], "ForwardedHeaders:KnownNetworks must be networks such as 10.0.0.0/8." },
        { ["--ForwardedHeaders:ForwardLimit=11"], "ForwardedHeaders:ForwardLimit must be from 1 to 10; it is '11'." },
        { ["--urls=banana"], "Urls must be addresses to listen on, such as http://127.0.0.1:5080 or http://*:5080, separated by ';'; 'banana' is not one." },
        { ["--Events:ExpirySweep=00:00:00"], "Events:ExpirySweep must be a time span between 00:00:00.1 and 01:00:00; it is '00:00:00'." },
        { ["--Events:RetentionDays=0"], "Events:RetentionDays must be from 1 to 3650; it is '0'." },
        { ["--Events:RetentionInterval=2.00:00:00"], "Events:RetentionInterval must be a time span between 00:00:00.1 and 1.00:00:00; it is '2.00:00:00'." },
        { ["--Webhooks:Timeout=00:05:00"], "Webhooks:Timeout must be a time span between 00:00:01 and 00:01:00; it is '00:05:00'." },
        { ["--Webhooks:MaxPerSecondPerEndpoint=0"], "Webhooks:MaxPerSecondPerEndpoint must be from 1 to 10000; it is '0'." },
        { ["--Webhooks:AllowHttp=perhaps"], "Webhooks:AllowHttp must be true or false; it is 'perhaps'." },
        { ["--Webhooks:AllowPrivateNetworks=1"], "Webhooks:AllowPrivateNetworks must be true or false; it is '1'." },
        { ["--Webhooks:PollInterval=00:00:00"], "Webhooks:PollInterval must be a time span between 00:00:00.05 and 00:01:00; it is '00:00:00'." },
        { ["--Webhooks:LeaseDuration=00:00:20"], "Webhooks:LeaseDuration must be at least twice Webhooks:Timeout." },
        { ["--Webhooks:MaxConcurrent=0"], "Webhooks:MaxConcurrent must be from 1 to 1000; it is '0'." },
        { ["--Diagnostics:EmptyEndpoint=maybe"], "Diagnostics:EmptyEndpoint must be true or false; it is 'maybe'." },
        { ["--Metrics:AllowedNetworks:0=everyone"], "Metrics:AllowedNetworks must be networks such as 10.0.0.0/8." },
        { ["--environment", "Production", Key, "--App:PublicBaseUrl=https://invitations.example.test", "--Console:DevSignIn=true"],
            "Console:DevSignIn must not be true in Production: it lets anyone sign in as anyone. Register the console as an OIDC client (Console:ClientId) instead." },
        { ["--Console:DevSignIn=maybe"], "Console:DevSignIn must be true or false; it is 'maybe'." },
        { ["--Console:ClientId=invitations-console"],
            "Console:ClientId is set, so Auth:Authority is required: set it to the issuer URL of the identity provider the console signs in with." },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task A_bad_setting_is_one_line_on_stderr_and_exit_code_1(string[] settings, string line)
    {
        var folder = Directory.CreateTempSubdirectory("ti-settings-").FullName;
        try
        {
            string[] listen = settings.Any(s => s.StartsWith("--urls", StringComparison.Ordinal)) ? [] : ["--urls", "http://127.0.0.1:0"];
            var (exitCode, stdout, stderr) = await ServiceProcess.RunCommandAsync(folder, [.. settings, .. listen]);

            Assert.Equal(1, exitCode);
            Assert.Equal(line, stderr.TrimEnd('\n'));
            Assert.Equal("", stdout);
            Assert.False(File.Exists(Path.Combine(folder, "data", "invitations.db")), "nothing may start before the settings are checked");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Several_bad_settings_are_a_line_each_and_a_secret_is_never_shown()
    {
        var folder = Directory.CreateTempSubdirectory("ti-settings-").FullName;
        try
        {
            var (exitCode, _, stderr) = await ServiceProcess.RunCommandAsync(folder,
                "--Invitations:ResendCooldown=banana", "--Invitations:MaxSendsPerDay=0", "--Email:Smtp:Port=x", "--Email:PollInterval=99:00:00",
                "--Email:Smtp:Password=hunter2-secret", "--Auth:SigningKey=short-secret", "--urls", "http://127.0.0.1:0");

            Assert.Equal(1, exitCode);
            Assert.Equal("Auth:SigningKey must be at least 32 bytes long; the key set is shorter.", stderr.TrimEnd('\n'));
            (exitCode, _, stderr) = await ServiceProcess.RunCommandAsync(folder,
                "--Invitations:ResendCooldown=banana", "--Invitations:MaxSendsPerDay=0", "--Email:Smtp:Port=x", "--Email:PollInterval=99:00:00",
                "--Email:Smtp:Password=hunter2-secret", "--urls", "http://127.0.0.1:0");
            Assert.Equal(1, exitCode);
            Assert.Equal(
            [
                "Invitations:ResendCooldown must be a time span (hh:mm:ss or d.hh:mm:ss) between 00:00:00 and 1.00:00:00; it is 'banana'.",
                "Email:Smtp:Port must be a whole number from 1 to 65535; it is 'x'.",
                "Invitations:MaxSendsPerDay must be from 1 to 100; it is '0'.",
                "Email:PollInterval must be a time span between 00:00:00.05 and 01:00:00; it is '99.00:00:00'.",
            ], stderr.TrimEnd('\n').Split('\n'));
            Assert.DoesNotContain("secret", stderr);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
