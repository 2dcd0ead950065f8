using System.Diagnostics;

namespace TenantInvitations.Tests;

// A PostgreSQL cluster of one test's own (scripts/postgres-cluster.sh), so the test can stop its server and start it again
// on the same port without disturbing the cluster the rest of the suite runs on.
public sealed class PostgresCluster : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), $"ti-outage-pg-{Guid.NewGuid():N}");

    private PostgresCluster()
    {
    }

    public int Port { get; private set; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    public static PostgresCluster Start()
    {
        var cluster = new PostgresCluster();
        try
        {
            cluster.Port = int.Parse(cluster.Run("start"));
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    // A fast shutdown: sessions are ended and new connections refused, the data stays.
    public void StopServer() => Run("stop-server");

    public void StartServer() => Assert.Equal(Port, int.Parse(Run("start-server")));

    public void Dispose() => Run("stop");

    private string Run(string command)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Script, command, folder })
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"postgres-cluster.sh {command} did not finish.");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"postgres-cluster.sh {command} failed ({process.ExitCode}): {stderr.Result}");
        }
        return stdout.Result.Trim();
    }

    // The repository's scripts folder, found by walking up from the test binaries.
    private static string Script
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var script = Path.Combine(dir.FullName, "scripts", "postgres-cluster.sh");
                if (File.Exists(script))
                {
                    return script;
                }
            }
            throw new InvalidOperationException($"scripts/postgres-cluster.sh was not found above {AppContext.BaseDirectory}.");
        }
    }
}
