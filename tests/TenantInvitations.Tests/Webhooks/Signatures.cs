using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;

namespace TenantInvitations.Tests;

// Webhook signatures checked by the StandardWebhooks NuGet package, an implementation nobody here wrote. Each check answers
// "verified" or the package's reason, so a failed assertion says why.
internal static class Signatures
{
    public const string Verified = "verified";

    // The service's format: "whsec_" and base64 of 32 random bytes.
    public static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    // The three Standard Webhooks headers for body, one signature per secret, space-separated as during a secret's rotation.
    public static HeaderDictionary Headers(string id, DateTimeOffset timestamp, string body, params string[] secrets) => new()
    {
        ["webhook-id"] = id,
        ["webhook-timestamp"] = timestamp.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["webhook-signature"] = string.Join(" ", secrets.Select(s => new StandardWebhook(s).Sign(id, timestamp, body))),
    };

    // The whole header, as the package checks it: against the real clock with 5 minutes' tolerance.
    public static string VerifyWithStandardWebhooks(string secret, ReceivedWebhook request) =>
        VerifyWithStandardWebhooks(secret, request.Body, request.Headers);

    public static string VerifyWithStandardWebhooks(string secret, string body, IHeaderDictionary headers)
    {
        try
        {
            new StandardWebhook(secret).Verify(body, headers);
            return Verified;
        }
        catch (WebhookVerificationException e)
        {
            return e.Message;
        }
    }

    // StandardWebhooks 1.1.2 checks only the first of several signatures, so each part is verified alone, in a header of its own:
    // one result per part, in order ("signature 1 is valid for the old secret, signature 2 for the new one").
    public static string[] VerifyEachWithStandardWebhooks(string secret, ReceivedWebhook request) =>
        VerifyEachWithStandardWebhooks(secret, request.Body, request.Headers);

    public static string[] VerifyEachWithStandardWebhooks(string secret, string body, IHeaderDictionary headers) =>
        [.. Parts(headers).Select(part => VerifyWithStandardWebhooks(secret, body, WithSignature(headers, part)))];

    // For a service on a fake clock, whose timestamps the real-clock check refuses: each part compared with what the package's
    // Sign makes for the request's own webhook-id and webhook-timestamp.
    public static string[] CompareEachWithSign(string secret, ReceivedWebhook request) =>
        CompareEachWithSign(secret, request.Body, request.Headers);

    public static string[] CompareEachWithSign(string secret, string body, IHeaderDictionary headers)
    {
        var id = headers["webhook-id"].ToString();
        if (!long.TryParse(headers["webhook-timestamp"].ToString(), out var seconds))
        {
            return [$"webhook-timestamp is not Unix seconds: '{headers["webhook-timestamp"]}'"];
        }
        var expected = new StandardWebhook(secret).Sign(id, DateTimeOffset.FromUnixTimeSeconds(seconds), body);
        return [.. Parts(headers).Select(part => part == expected ? Verified : $"{part} is not Sign's {expected}")];
    }

    // The space-separated parts of webhook-signature; none at all is one (empty) part, so the check reports it missing.
    private static string[] Parts(IHeaderDictionary headers) =>
        headers["webhook-signature"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: > 0 } parts ? parts : [""];

    private static HeaderDictionary WithSignature(IHeaderDictionary headers, string signature)
    {
        var copy = new HeaderDictionary();
        foreach (var (name, values) in headers)
        {
            copy[name] = values;
        }
        copy["webhook-signature"] = signature;
        return copy;
    }
}
