using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;

namespace TenantInvitations.Tests;

// scripts/release.sh's self-contained executable, started as a person would run it: in Production, migrated by its own
// `migrate` command, against a PostgreSQL server and an SMTP server on loopback. And the systemd unit shipped with it,
// checked by systemd-analyze against that executable.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class ReleaseTests
{
    [Fact]
    public async Task The_release_binary_migrates_and_serves_in_Production_against_PostgreSQL_and_SMTP()
    {
        var folder = Directory.CreateTempSubdirectory("ti-release-").FullName;
        var release = Path.Combine(folder, "release");
        var publish = await RunAsync(Path.Combine(Repository.Root, "scripts", "release.sh"), [release], new(), TimeSpan.FromMinutes(15));
        Assert.True(publish.ExitCode == 0, publish.Output);
        var binary = Path.Combine(release, "TenantInvitations");
        Assert.True(File.Exists(binary), publish.Output);
        Assert.False(File.Exists(Path.Combine(release, "TenantInvitations.dll")), "a single file, not the framework-dependent layout");
        Assert.True(File.Exists(Path.Combine(release, "Email", "Templates", "en", "body.html.liquid")), publish.Output);
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(release, "Invitations", "Pages"), "*.liquid"));

        using var postgres = PostgresCluster.Start();
        await using var smtp = new SmtpSink();
        var port = ServiceProcess.FreePort();
        var work = Directory.CreateDirectory(Path.Combine(folder, "state")).FullName;
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["App__PublicBaseUrl"] = "https://invitations.example.test",
            ["Auth__SigningKey"] = TestApp.SigningKey,
            ["Storage__Provider"] = "Postgres",
            ["Storage__MigrateOnStart"] = "false",
            ["ConnectionStrings__Invitations"] = postgres.ConnectionString,
            ["Email__Smtp__Host"] = "127.0.0.1",
            ["Email__Smtp__Port"] = smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Email__Smtp__UseTls"] = "false",
        };
        var migrate = await RunAsync(binary, ["migrate"], environment, TimeSpan.FromMinutes(2), work);
        Assert.True(migrate.ExitCode == 0, migrate.Output);
        Assert.Contains("Migrations applied.", migrate.Output);

        using var service = Process.Start(Info(binary, ["--urls", $"http://127.0.0.1:{port}"], environment, work))!;
        var output = new StringBuilder();
        service.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        service.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        service.BeginOutputReadLine();
        service.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            await Eventually.ValueAsync(async () =>
            {
                try
                {
                    return (await client.GetAsync("health/ready")).StatusCode;
                }
                catch (HttpRequestException)
                {
                    return HttpStatusCode.ServiceUnavailable;
                }
            }, status => status == HttpStatusCode.OK, seconds: 60);

            using var request = new HttpRequestMessage(HttpMethod.Post, "/tenant") { Content = JsonContent.Create(new { name = "Released", ownerEmail = "owner@release.test" }) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token("platform-root", "root@platform.test", platformAdmin: true));
            var created = await ApiResponse.ReadAsync(await client.SendAsync(request));
            created.AssertSuccess(HttpStatusCode.Created);
            var email = Assert.Single(await smtp.WaitForAsync("owner@release.test"));
            Assert.Contains("https://invitations.example.test/accept?token=", email.TextBody);
            Assert.Contains("invitation_events_total", await client.GetStringAsync("/metrics"));
        }
        finally
        {
            service.Kill(entireProcessTree: true);
            await service.WaitForExitAsync();
        }
        lock (output)
        {
            Assert.DoesNotContain("fail:", output.ToString());
        }

        // The unit, pointed at this release instead of /opt/tenant-invitations, passes systemd's own check.
        Assert.True(File.Exists("/usr/bin/systemd-analyze"), "systemd-analyze comes with Debian's systemd");
        var unit = Path.Combine(folder, "tenant-invitations.service");
        File.WriteAllText(unit, File.ReadAllText(Path.Combine(release, "tenant-invitations.service")).Replace("/opt/tenant-invitations", release, StringComparison.Ordinal));
        var verify = await RunAsync("/usr/bin/systemd-analyze", ["verify", unit], new(), TimeSpan.FromMinutes(1));
        Assert.True(verify.ExitCode == 0 && verify.Output.Trim() == "", verify.Output);
        Directory.Delete(folder, recursive: true);
    }

    private static ProcessStartInfo Info(string file, string[] args, Dictionary<string, string> environment, string? directory = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory ?? Repository.Root,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        return info;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, string[] args, Dictionary<string, string> environment, TimeSpan timeout,
        string? directory = null)
    {
        using var process = Process.Start(Info(file, args, environment, directory))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
