using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace TenantInvitations.Tests;

// Webhook signatures checked by the standardwebhooks npm package, run by node on tests/webhook-verify/verify.mjs
// (scripts/test.sh installs its node_modules). Output is "verified" with exit code 0, or the package's error with 1.
internal static class NodeVerifier
{
    public static Task<(int ExitCode, string Output)> VerifyAsync(string secret, ReceivedWebhook request, int seconds = 30) =>
        VerifyAsync(secret, request.Body, request.Headers, seconds);

    public static async Task<(int ExitCode, string Output)> VerifyAsync(string secret, string body, IHeaderDictionary headers, int seconds = 30)
    {
        var folder = Path.Combine(Repository.Root, "tests", "webhook-verify");
        if (!Directory.Exists(Path.Combine(folder, "node_modules")))
        {
            throw new InvalidOperationException($"{folder}/node_modules is missing: run npm ci --prefix tests/webhook-verify (scripts/test.sh does).");
        }
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(folder, "verify.mjs"));
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var input = new { secret, headers = headers.ToDictionary(h => h.Key, h => h.Value.ToString()), body };
        await process.StandardInput.WriteAsync(JsonSerializer.Serialize(input));
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node verify.mjs did not finish within {seconds} s.");
        }
        return (process.ExitCode, $"{await stdout}{await stderr}".Trim());
    }
}
