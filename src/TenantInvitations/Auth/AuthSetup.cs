using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;
using TenantInvitations.Api;

namespace TenantInvitations.Auth;

internal sealed class AuthOptions
{
    public const string LocalIssuer = "tenant-invitations";
    public const string LocalAudience = "tenant-invitations";
    public const string PlatformAdminRole = "platform-admin";

    public string? SigningKey { get; set; }
    public string? Authority { get; set; }
    public string? Audience { get; set; }
    public string RoleClaim { get; set; } = "role";
    // Only for an authority on loopback in tests or local setups; production metadata must come over HTTPS.
    public bool RequireHttpsMetadata { get; set; } = true;
}

internal static class AuthSetup
{
    public const string PlatformAdminPolicy = "platform-admin";

    public static void AddInvitationAuth(this WebApplicationBuilder builder)
    {
        var options = Settings.Read<AuthOptions>(builder.Configuration, "Auth");
        if (options.Authority is not null && string.IsNullOrWhiteSpace(options.Audience))
        {
            // Without an audience, any token the provider issued for any other application would be accepted here.
            throw new SettingException("Auth:Audience is required with Auth:Authority: set it to the audience your identity provider puts in tokens for this service.");
        }
        var signingKey = options.Authority is null ? SigningKey.Resolve(options, builder.Environment) : null;
        builder.Services.AddSettings<AuthOptions>("Auth");

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(jwt =>
        {
            jwt.MapInboundClaims = false;
            jwt.TokenValidationParameters.NameClaimType = "sub";
            jwt.TokenValidationParameters.RoleClaimType = options.RoleClaim;
            if (options.Authority is not null)
            {
                jwt.Authority = options.Authority;
                jwt.Audience = options.Audience;
                jwt.RequireHttpsMetadata = options.RequireHttpsMetadata;
            }
            else
            {
                jwt.TokenValidationParameters.ValidIssuer = AuthOptions.LocalIssuer;
                jwt.TokenValidationParameters.ValidAudience = options.Audience ?? AuthOptions.LocalAudience;
                jwt.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(signingKey);
                jwt.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
            }
            jwt.TokenValidationParameters.ClockSkew = TimeSpan.FromSeconds(30);
            jwt.Events = new JwtBearerEvents
            {
                // Every caller is identified by sub; a token without one identifies nobody and is refused.
                OnTokenValidated = context =>
                {
                    if (UnusableClaimsException.Check(context.Principal) is { } unusable)
                    {
                        context.Fail(unusable);
                    }
                    return Task.CompletedTask;
                },
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    context.Response.Headers.WWWAuthenticate = context.AuthenticateFailure is null ? "Bearer" : "Bearer error=\"invalid_token\"";
                    var info = context.AuthenticateFailure switch
                    {
                        null => "Send an 'Authorization: Bearer <token>' header.",
                        SecurityTokenExpiredException => "The bearer token has expired.",
                        UnusableClaimsException unusable => unusable.Message,
                        _ => "The bearer token is not valid for this service.",
                    };
                    await Failure.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized,
                        new ApiError(ErrorCode.Unauthorized, "Authentication is required.", [info]));
                },
                OnForbidden = context => Failure.Forbidden("You may not do this.").ExecuteAsync(context.HttpContext),
            };
        });
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(PlatformAdminPolicy, policy => policy.RequireRole(AuthOptions.PlatformAdminRole));
    }
}

// A correctly signed token whose claims the service can't use: no subject, a subject too long or with control characters,
// or an email too long or with a NUL (both are stored in audit rows and on users, which must never fail to save). Line
// breaks in an email are left to the endpoints that would put it in a mail header; they answer 400.
internal sealed class UnusableClaimsException(string message) : SecurityTokenValidationException(message)
{
    public static UnusableClaimsException? Check(System.Security.Claims.ClaimsPrincipal? principal)
    {
        var subject = principal?.FindFirst("sub")?.Value;
        var email = principal?.FindFirst("email")?.Value;
        if (string.IsNullOrWhiteSpace(subject))
        {
            return new UnusableClaimsException("The bearer token has no 'sub' claim.");
        }
        if (subject.Length > Limits.Subject || Text.HasControlCharacters(subject))
        {
            return new UnusableClaimsException($"The bearer token's 'sub' claim must be at most {Limits.Subject} characters, without control characters.");
        }
        if (email is not null && (email.Length > Limits.Email || email.Contains('\0', StringComparison.Ordinal)))
        {
            return new UnusableClaimsException($"The bearer token's 'email' claim must be at most {Limits.Email} characters, without NUL characters.");
        }
        return null;
    }
}

// The HS256 key for local tokens: Auth:SigningKey, or in Development a key generated once into data/.
internal static class SigningKey
{
    public const int MinimumBytes = 32;

    public static byte[] Resolve(AuthOptions options, IHostEnvironment environment)
    {
        if (options.SigningKey is { } configured)
        {
            var bytes = Encoding.UTF8.GetBytes(configured);
            return bytes.Length >= MinimumBytes
                ? bytes
                : throw new SettingException($"Auth:SigningKey must be at least {MinimumBytes} bytes long; the key set is shorter.");
        }
        if (!environment.IsDevelopment())
        {
            throw new SettingException(
                "Auth:Authority (with Auth:Audience) or Auth:SigningKey is required outside Development: set Auth:Authority (and Auth:Audience) for OIDC, or Auth:SigningKey (at least 32 bytes) for locally signed tokens.");
        }
        // Relative to the working directory, like the default database and mail folder.
        return Encoding.UTF8.GetBytes(ReadOrCreateDevelopmentKey(Path.GetFullPath(Path.Combine("data", "signing-key"))));
    }

    private static string ReadOrCreateDevelopmentKey(string path)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
            File.WriteAllText(temporary, Base64Url.Encode(RandomNumberGenerator.GetBytes(48)));
            try
            {
                File.Move(temporary, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(temporary); // another process made the key first; use theirs
            }
        }
        return File.ReadAllText(path).Trim();
    }
}

internal static class Base64Url
{
    public static string Encode(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
