namespace TenantInvitations;

internal static class Clock
{
    // UTC, to the millisecond, so a stored time reads back exactly the same on every provider.
    public static DateTime UtcNow(this TimeProvider clock)
    {
        var ticks = clock.GetUtcNow().UtcTicks;
        return new DateTime(ticks - ticks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
    }
}
