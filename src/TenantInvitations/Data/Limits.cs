namespace TenantInvitations;

// Length limits shared by validation and the schema, so a long value is refused rather than truncated.
internal static class Limits
{
    public const int Email = 254;
    public const int Name = 200;
    public const int Subject = 255;
    public const int Locale = 35;
    public const int Message = 500;
    public const int AllowedDomains = 50;
    public const int MaxValidityDays = 30;
    public const int MaxPageSize = 100;
    public const int DefaultPageSize = 50;
    // Kestrel's own default is 30 MB; the largest valid body here is a few kilobytes.
    public const int RequestBodyBytes = 1024 * 1024;
}
