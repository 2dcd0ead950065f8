using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace TenantInvitations.Tests;

// Bearer tokens the service must refuse. Each carries the platform-admin role, so only its flaw stands between it and full access.
public static class BadTokens
{
    public static string Unsigned(string email) =>
        $"{Segment(new { alg = "none", typ = "JWT" })}.{Segment(new
        {
            iss = "tenant-invitations",
            aud = "tenant-invitations",
            sub = "mallory",
            email,
            role = "platform-admin",
            iat = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds(),
            nbf = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds(),
            exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
        })}.";

    public static string WrongAudience(string email) => TestApp.Token("mallory", email, platformAdmin: true, audience: "another-service");

    public static string WrongKey(string email) =>
        TestApp.Token("mallory", email, platformAdmin: true, signingKey: "another-signing-key-that-is-long-enough-for-hs256");

    public static string Expired(string email) =>
        TestApp.Token("mallory", email, platformAdmin: true, expires: DateTime.UtcNow.AddMinutes(-5));

    // Correctly signed for this service, but it does not say who the caller is.
    public static string WithoutSubject(string? email)
    {
        var claims = new List<Claim> { new("role", "platform-admin") };
        if (email is not null)
        {
            claims.Add(new Claim("email", email));
        }
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "tenant-invitations",
            Audience = "tenant-invitations",
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now.AddHours(-1),
            NotBefore = now.AddHours(-1),
            Expires = now.AddHours(1),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(TestApp.SigningKey)), SecurityAlgorithms.HmacSha256),
        });
    }

    // Authorization header values that must all be refused with 401, labelled for failure messages.
    public static IEnumerable<(string Label, string? Header)> Headers(string email) =>
    [
        ("no Authorization header", null),
        ("'Bearer' without a token", "Bearer"),
        ("'Bearer garbage'", "Bearer garbage"),
        ("'Bearer a.b.c'", "Bearer a.b.c"),
        ("Basic credentials", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
        ("a token signed with alg none", $"Bearer {Unsigned(email)}"),
        ("a token with the wrong audience", $"Bearer {WrongAudience(email)}"),
        ("a token signed with another key", $"Bearer {WrongKey(email)}"),
        ("an expired token", $"Bearer {Expired(email)}"),
        ("a token without sub", $"Bearer {WithoutSubject(email)}"),
    ];

    private static string Segment(object value) => Base64UrlEncoder.Encode(JsonSerializer.SerializeToUtf8Bytes(value));
}
