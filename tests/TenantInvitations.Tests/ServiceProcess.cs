using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace TenantInvitations.Tests;

// The real program in its own process, as `dotnet run` starts it: its own working directory (where data/ goes) and environment.
public sealed class ServiceProcess : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();

    private ServiceProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output { get { lock (output) { return output.ToString(); } } }
    public Uri BaseAddress { get; private init; } = new("http://127.0.0.1/");
    public bool HasExited => process.HasExited;

    public static ServiceProcess Start(string workingDirectory, params string[] settings)
    {
        var port = FreePort();
        var process = Process.Start(StartInfo(workingDirectory, ["--urls", $"http://127.0.0.1:{port}", .. settings]))!;
        return new ServiceProcess(process) { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
    }

    // Runs a command (token, migrate) to completion and returns its exit code and streams.
    public static async Task<(int ExitCode, string StandardOutput, string StandardError)> RunCommandAsync(string workingDirectory, params string[] args)
    {
        using var process = Process.Start(StartInfo(workingDirectory, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    // Polls a health endpoint until it answers 200: /health/live for a service whose database is meant to be away.
    public async Task WaitUntilReadyAsync(string health = "health/ready")
    {
        using var client = new HttpClient { BaseAddress = BaseAddress };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                if ((await client.GetAsync(health)).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        Assert.Fail($"The service did not become ready. Output:\n{Output}");
    }

    // SIGKILL: no shutdown, no flushing; what was in flight is simply gone.
    public void Kill()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }

    // SIGTERM, as a container runtime or systemd stops a service: the host shuts down gracefully.
    public void Terminate()
    {
        Assert.True(kill(process.Id, Sigterm) == 0, $"kill({process.Id}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}.");
    }

    // Waits for the process to end by itself and returns its exit code.
    public async Task<int> WaitForExitAsync(int seconds = 30)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The service did not exit within {seconds} s. Output:\n{Output}");
        }
        return process.ExitCode;
    }

    // Waits until the service has written a line containing text (its log goes to the console).
    public async Task WaitForOutputAsync(string text, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"The service did not log '{text}' within {seconds} s. Output:\n{Output}");
            await Task.Delay(25);
        }
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        process.Dispose();
    }

    private static ProcessStartInfo StartInfo(string workingDirectory, string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        // What `dotnet run` of a Debug build amounts to, whatever configuration the tests were built in.
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        info.Environment.Remove("DOTNET_ENVIRONMENT");
        return info;
    }

    private const int Sigterm = 15;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
