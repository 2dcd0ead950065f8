using MimeKit;

namespace TenantInvitations.Tests;

// The pickup directory as a mailbox: waits for emails to arrive and parses them with MimeKit.
public sealed class Mailbox(string folder)
{
    public MimeMessage[] All() => Directory.Exists(folder)
        ? [.. Directory.GetFiles(folder, "*.eml").Select(path => MimeMessage.Load(path)).OrderBy(m => m.Date)]
        : [];

    public MimeMessage[] To(string address) =>
        [.. All().Where(m => m.To.Mailboxes.Any(b => string.Equals(b.Address, address, StringComparison.OrdinalIgnoreCase)))];

    public async Task<MimeMessage[]> WaitForAsync(string address, int count = 1)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var messages = To(address);
            if (messages.Length >= count || DateTime.UtcNow > deadline)
            {
                Assert.True(messages.Length >= count, $"Expected {count} email(s) to {address}, found {messages.Length}.");
                return messages;
            }
            await Task.Delay(25);
        }
    }

    public static string TokenFrom(MimeMessage message)
    {
        var match = System.Text.RegularExpressions.Regex.Match(message.TextBody ?? "", @"/accept\?token=([A-Za-z0-9_-]+)");
        Assert.True(match.Success, "The email has no accept link.");
        return match.Groups[1].Value;
    }
}
