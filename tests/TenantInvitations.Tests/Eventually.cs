namespace TenantInvitations.Tests;

// Background work (the outbox dispatcher) finishes shortly after a request; poll for its result instead of sleeping.
public static class Eventually
{
    public static async Task<T> ValueAsync<T>(Func<Task<T>> read, Func<T, bool> done, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var value = await read();
            if (done(value) || DateTime.UtcNow > deadline)
            {
                Assert.True(done(value), $"Still not done after {seconds} s: {value}");
                return value;
            }
            await Task.Delay(25);
        }
    }
}
