using System.Globalization;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace TenantInvitations.Auth;

// `token --sub S --email E [--platform-admin] [--minutes N]`: prints a bearer token the service accepts under the same configuration.
internal sealed record TokenCommand(string Subject, string? Email, bool PlatformAdmin, int Minutes)
{
    public const string Usage = "usage: token --sub S [--email E] [--platform-admin] [--minutes N]   (N from 1 to 525600, default 60)";

    // Takes the command's own flags out of args; what is left is configuration (e.g. --Auth:SigningKey=...).
    public static (TokenCommand? Command, string? Error, string[] Remaining) Parse(string[] args)
    {
        string? subject = null, email = null;
        var platformAdmin = false;
        var minutes = 60;
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--sub" when i + 1 < args.Length: subject = args[++i]; break;
                case "--email" when i + 1 < args.Length: email = args[++i]; break;
                case "--platform-admin": platformAdmin = true; break;
                case "--minutes" when i + 1 < args.Length:
                    if (!int.TryParse(args[++i], CultureInfo.InvariantCulture, out minutes) || minutes is < 1 or > 525_600)
                    {
                        return (null, Usage, []);
                    }
                    break;
                default: rest.Add(args[i]); break;
            }
        }
        return string.IsNullOrWhiteSpace(subject) ? (null, Usage, []) : (new TokenCommand(subject, email, platformAdmin, minutes), null, [.. rest]);
    }

    public int Run(IConfiguration configuration, IHostEnvironment environment, TimeProvider clock)
    {
        var options = configuration.GetSection("Auth").Get<AuthOptions>() ?? new AuthOptions();
        if (options.Authority is not null)
        {
            System.Console.Error.WriteLine("Auth:Authority is set, so tokens come from your identity provider; the token command only signs with Auth:SigningKey.");
            return 1;
        }
        var claims = new List<Claim> { new("sub", Subject) };
        if (Email is not null)
        {
            claims.Add(new Claim("email", Email));
        }
        if (PlatformAdmin)
        {
            claims.Add(new Claim(options.RoleClaim, AuthOptions.PlatformAdminRole));
        }
        var now = clock.GetUtcNow().UtcDateTime;
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = AuthOptions.LocalIssuer,
            Audience = options.Audience ?? AuthOptions.LocalAudience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(Minutes),
            SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(SigningKey.Resolve(options, environment)), SecurityAlgorithms.HmacSha256),
        });
        System.Console.WriteLine(token);
        return 0;
    }
}
