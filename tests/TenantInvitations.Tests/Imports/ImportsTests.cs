using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using nietras.SeparatedValues;
using TenantInvitations.Imports;
using TenantInvitations.Invitations;

namespace TenantInvitations.Tests;

// CSV imports in-process: awkward files followed to Completed, the refusals before any work, pacing by the quota under the
// fake clock, cancelling, results as CSV, retention, idempotency and tenant isolation. ImportCrashTests kills a real process.
public sealed class ImportsTests(TestApp app) : IClassFixture<TestApp>
{
    public static string ImportPath(long tenantId) => $"/tenant/{tenantId}/admin/user/invitation/import";

    private Task<ApiResponse> UploadAsync(TenantSetup tenant, string csv, string contentType = "text/csv", string? key = null) =>
        app.SendBytesAsync(HttpMethod.Post, ImportPath(tenant.Id), tenant.OwnerToken, Encoding.UTF8.GetBytes(csv), contentType,
            key is null ? null : [new("Idempotency-Key", key)]);

    private async Task<JsonElement> WaitForAsync(TenantSetup tenant, long importId, string status, int seconds = 60) =>
        await Eventually.ValueAsync(async () => (await app.GetAsync($"{ImportPath(tenant.Id)}/{importId}", tenant.OwnerToken)).AssertSuccess(),
            import => import.GetProperty("status").GetString() == status, seconds);

    private async Task<List<string[]>> ResultsAsync(TenantSetup tenant, long importId)
    {
        var response = await app.GetAsync($"{ImportPath(tenant.Id)}/{importId}/results", tenant.OwnerToken);
        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("text/csv", response.ContentHeaders!.ContentType!.MediaType);
        Assert.Equal($"import-{importId}-results.csv", response.ContentHeaders.ContentDisposition!.FileNameStar ?? response.ContentHeaders.ContentDisposition.FileName);
        return ReadCsv(response.Body);
    }

    // Every record with every field, as a spreadsheet would read them; the header first.
    public static List<string[]> ReadCsv(string csv)
    {
        using var reader = Sep.Reader(o => o with { Unescape = true, HasHeader = false }).FromText(csv.TrimStart('\uFEFF'));
        var records = new List<string[]>();
        foreach (var row in reader)
        {
            var fields = new string[row.ColCount];
            for (var i = 0; i < row.ColCount; i++)
            {
                fields[i] = row[i].ToString();
            }
            records.Add(fields);
        }
        return records;
    }

    private Task<int> InvitationCountAsync(TenantSetup tenant) =>
        app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id));

    [Fact]
    public async Task An_awkward_file_with_a_BOM_semicolons_quotes_line_breaks_blank_lines_and_formulas_is_imported_line_by_line()
    {
        var tenant = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");
        var invited = await app.InviteAsync(tenant);
        var (a, b, c) = (Scenarios.UniqueEmail("a"), Scenarios.UniqueEmail("b"), Scenarios.UniqueEmail("c"));
        var csv = "\uFEFFName;EMAIL;Role;Message;Department\r\n" +                     // line 1
            $"\"Doe; Jane\";{a};admin;\"Hello,\r\nwelcome \"\"aboard\"\"\";Sales\r\n" + // lines 2-3
            "\r\n" +                                                                    // line 4: blank
            $";{b};;;\r\n" +                                                            // line 5
            ";;;;\r\n" +                                                                // line 6: blank fields only
            "Evil;=HYPERLINK(\"http://x.test\");Member;;\r\n" +                         // line 7
            $"Dup;{a.ToUpperInvariant()};;;\r\n" +                                      // line 8
            $"Member;{member.Email};;;\r\n" +                                          // line 9
            $"Invited;{invited.Email};;;\r\n" +                                        // line 10
            $"Bad role;{c};Superuser;;\r\n" +                                          // line 11
            $"Formula message;{c};Member;@SUM(1);\r\n" +                               // line 12
            "Short;+1 555;;;\r\n";                                                     // line 13

        var started = await UploadAsync(tenant, csv, "text/csv; charset=utf-8");

        var import = started.AssertSuccess(HttpStatusCode.Accepted);
        var importId = import.GetProperty("id").GetInt64();
        Assert.Equal($"/tenant/{tenant.Id}/admin/user/invitation/import/{importId}", started.Headers.Location!.OriginalString);
        Assert.Equal(9, import.GetProperty("totalRows").GetInt32());
        Assert.Equal(["Name", "Department"], import.GetProperty("ignoredColumns").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(
            ["id", "status", "totalRows", "processedRows", "created", "skipped", "failed", "ignoredColumns", "createdAt", "finishedAt", "nextRunAt"],
            import.EnumerateObject().Select(p => p.Name));

        var done = await WaitForAsync(tenant, importId, "Completed");
        Assert.Equal((9, 3, 3, 3), (done.GetProperty("processedRows").GetInt32(), done.GetProperty("created").GetInt32(),
            done.GetProperty("skipped").GetInt32(), done.GetProperty("failed").GetInt32()));
        Assert.Equal(JsonValueKind.Null, done.GetProperty("nextRunAt").ValueKind);
        Assert.Equal(app.Clock.GetUtcNow().UtcDateTime, done.GetProperty("finishedAt").GetDateTime(), TimeSpan.FromSeconds(1));

        var results = await ResultsAsync(tenant, importId);
        Assert.Equal(["line", "email", "status", "invitationId", "error"], results[0]);
        var byLine = results.Skip(1).ToDictionary(r => int.Parse(r[0], CultureInfo.InvariantCulture));
        Assert.Equal([2, 5, 7, 8, 9, 10, 11, 12, 13], byLine.Keys);
        Assert.All(results, r => Assert.Equal(5, r.Length));
        Assert.Equal(["Created", "Created", "Invalid", "AlreadyInvited", "AlreadyMember", "AlreadyInvited", "Invalid", "Created", "Invalid"],
            byLine.Values.Select(r => r[2]));
        // Cells a spreadsheet would run as formulas start with an apostrophe; nothing else is changed.
        Assert.Equal("'=HYPERLINK(\"http://x.test\")", byLine[7][1]);
        Assert.Equal("'+1 555", byLine[13][1]);
        Assert.Equal(a.ToUpperInvariant(), byLine[8][1]);
        Assert.DoesNotContain(results.Skip(1).SelectMany(r => r), cell => cell.Length > 0 && cell[0] is '=' or '+' or '-' or '@' or '\t' or '\r');
        Assert.Equal("The email field must be a valid email address, such as someone@example.com.", byLine[7][4]);
        Assert.Equal("The role field must be Owner, Admin or Member.", byLine[11][4]);
        Assert.Equal("That email already belongs to a member of this tenant.", byLine[9][4]);
        Assert.Equal(invited.Id.ToString(CultureInfo.InvariantCulture), byLine[10][3]);
        Assert.Equal(byLine[2][3], byLine[8][3]);
        Assert.Equal("", byLine[2][4]);

        // The invitations as the rows asked, each with its email.
        var made = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.TenantId == tenant.Id && (i.Email == a || i.Email == b || i.Email == c))
            .ToDictionaryAsync(i => i.Email));
        Assert.Equal(TenantInvitations.Members.MemberRole.Admin, made[a].Role);
        Assert.Equal("Hello,\r\nwelcome \"aboard\"", made[a].Message);
        Assert.Equal(TenantInvitations.Members.MemberRole.Member, made[b].Role);
        Assert.Equal("@SUM(1)", made[c].Message);
        Assert.Equal(tenant.OwnerEmail, made[a].InvitedBy);
        Assert.Equal([byLine[2][3], byLine[5][3], byLine[12][3]], new[] { a, b, c }.Select(e => made[e].Id.ToString(CultureInfo.InvariantCulture)));
        foreach (var email in new[] { a, b, c })
        {
            Assert.Single(await app.WaitForEmailAsync(email));
        }
        Assert.Equal(3, await app.QueryAsync(db => db.Events.IgnoreQueryFilters().CountAsync(e => e.TenantId == tenant.Id && e.Type == "invitation.created"
            && (e.Data.Contains(a) || e.Data.Contains(b) || e.Data.Contains(c)))));

        // Started and finished are in the audit trail; the file is gone once it is done.
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().Where(e => e.TenantId == tenant.Id && e.TargetType == "import")
            .OrderBy(e => e.Id).Select(e => new { e.Action, e.Details, e.ActorEmail }).ToListAsync());
        Assert.Equal([("import.started", "9 rows"), ("import.completed", "9 of 9 rows: 3 created, 3 skipped, 3 failed")], audit.Select(e => (e.Action, e.Details)));
        Assert.All(audit, e => Assert.Equal(tenant.OwnerEmail, e.ActorEmail));
        Assert.Equal(0, await app.QueryAsync(db => db.ImportFiles.CountAsync(f => f.ImportId == importId)));
    }

    [Fact]
    public async Task A_comma_file_with_LF_endings_and_no_BOM_counts_a_duplicate_address_as_skipped()
    {
        var tenant = await app.CreateTenantAsync();
        var (a, b) = (Scenarios.UniqueEmail("a"), Scenarios.UniqueEmail("b"));

        var started = await UploadAsync(tenant, $"email,expiresInDays,locale\n{a},3,de\n\n{b},,\n{a},,\n\"{b}\",40,\n");

        var importId = started.AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();
        Assert.Empty(started.Value.GetProperty("ignoredColumns").EnumerateArray());
        var done = await WaitForAsync(tenant, importId, "Completed");
        Assert.Equal((4, 2, 1, 1), (done.GetProperty("totalRows").GetInt32(), done.GetProperty("created").GetInt32(),
            done.GetProperty("skipped").GetInt32(), done.GetProperty("failed").GetInt32()));
        var results = await ResultsAsync(tenant, importId);
        // A row's values are checked before its address: 40 days is Invalid although the address is invited already.
        Assert.Equal([["2", a, "Created"], ["4", b, "Created"], ["5", a, "AlreadyInvited"], ["6", b, "Invalid"]],
            results.Skip(1).Select(r => r[..3]));
        var first = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().SingleAsync(i => i.Email == a));
        Assert.Equal(("de", 3), (first.Locale, first.ValidityDays));
    }

    public static TheoryData<string, string, byte[], int, string> Refusals => new()
    {
        { "not UTF-8", "text/csv", [.. "email\n"u8, 0x6A, 0xE9, .. "@example.test\n"u8], 400, "The file must be UTF-8 text (with or without a byte order mark); save the spreadsheet as 'CSV UTF-8'." },
        { "no email column", "text/csv", "name,role\nJane,Admin\n"u8.ToArray(), 400, "The first row must name the columns, with an email column (email, role, expiresInDays, message, locale; any case)." },
        { "email twice in two cases", "text/csv", "email,Email\na@example.test,b@example.test\n"u8.ToArray(), 400, "The column Email appears more than once in the header row." },
        { "email twice", "text/csv", "email,role,email\na@example.test,Admin,b@example.test\n"u8.ToArray(), 400, "The column email appears more than once in the header row." },
        { "a NUL", "text/csv", "email\na\0b@example.test\n"u8.ToArray(), 400, "The file must be text; it contains a NUL character." },
        { "header only", "text/csv", "email\r\n\r\n;\r\n"u8.ToArray(), 400, "The file has no data rows: after the header row, each row is one invitation." },
        { "empty", "text/csv", [], 400, "The first row must name the columns, with an email column (email, role, expiresInDays, message, locale; any case)." },
        { "JSON", "application/json", "{\"email\":\"a@example.test\"}"u8.ToArray(), 415, "Send the file as UTF-8 CSV with 'Content-Type: text/csv'." },
        { "text/plain", "text/plain", "email\na@example.test\n"u8.ToArray(), 415, "Send the file as UTF-8 CSV with 'Content-Type: text/csv'." },
        { "Latin-1 charset", "text/csv; charset=iso-8859-1", "email\na@example.test\n"u8.ToArray(), 415, "Send the file as UTF-8 CSV with 'Content-Type: text/csv'." },
        { "a form", "multipart/form-data; boundary=x", "--x\r\n\r\nemail\r\n--x--\r\n"u8.ToArray(), 415, "Send the file as UTF-8 CSV with 'Content-Type: text/csv'." },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_file_that_cant_be_imported_is_refused_before_any_work(string what, string contentType, byte[] body, int status, string problem)
    {
        var tenant = await app.CreateTenantAsync();
        var before = await InvitationCountAsync(tenant);

        var response = await app.SendBytesAsync(HttpMethod.Post, ImportPath(tenant.Id), tenant.OwnerToken, body, contentType);

        var refused = response.AssertError((HttpStatusCode)status, status == 415 ? "UnsupportedMediaType" : "ValidationError");
        Assert.Equal(problem, status == 415 ? refused.Json.GetProperty("error").GetProperty("message").GetString() : Assert.Single(refused.ErrorInfo));
        Assert.True(what.Length > 0);
        Assert.Equal(0, await app.QueryAsync(db => db.InvitationImports.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id)));
        Assert.Equal(before, await InvitationCountAsync(tenant));
    }

    [Fact]
    public async Task Blank_and_repeated_other_columns_are_ignored_and_a_quoted_utf8_charset_is_taken()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail("cols");

        var started = await UploadAsync(tenant, $"Notes,email,,Notes,\nx,{email},,y,\n", "text/csv; charset=\"UTF-8\"");

        var import = started.AssertSuccess(HttpStatusCode.Accepted);
        Assert.Equal(["Notes", "Notes"], import.GetProperty("ignoredColumns").EnumerateArray().Select(c => c.GetString()));
        var done = await WaitForAsync(tenant, import.GetProperty("id").GetInt64(), "Completed");
        Assert.Equal(1, done.GetProperty("created").GetInt32());
        Assert.Single(await app.WaitForEmailAsync(email));
    }

    [Fact]
    public async Task A_platform_admins_download_of_results_is_audited_with_the_import()
    {
        var tenant = await app.CreateTenantAsync();
        var importId = (await UploadAsync(tenant, $"email\n{Scenarios.UniqueEmail("pa")}\n")).AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();
        await WaitForAsync(tenant, importId, "Completed");

        var response = await app.GetAsync($"{ImportPath(tenant.Id)}/{importId}/results", app.PlatformAdminToken);

        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal(2, ReadCsv(response.Body).Count);
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .Where(a => a.TenantId == tenant.Id && a.Action == "platform_admin.read").Select(a => a.Details).ToListAsync());
        Assert.EndsWith($"/import/{{importId}}/results id {importId}", Assert.Single(audit));
    }

    [Fact]
    public async Task Over_100000_rows_is_a_400_and_over_10_MB_a_413_and_neither_starts_anything()
    {
        var tenant = await app.CreateTenantAsync();
        var rows = new StringBuilder("email\n");
        for (var i = 0; i <= ImportCsv.MaxRows; i++)
        {
            rows.Append(CultureInfo.InvariantCulture, $"p{i}@x.test\n");
        }

        var tooMany = await UploadAsync(tenant, rows.ToString());
        var tooBig = await app.SendBytesAsync(HttpMethod.Post, ImportPath(tenant.Id), tenant.OwnerToken,
            Encoding.UTF8.GetBytes("email\n" + new string('a', ImportCsv.MaxBytes)), "text/csv");

        Assert.Equal(["The file has more than 100000 rows; split it into several imports."], tooMany.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Equal("The file is over 10 MB; split it into several imports.",
            tooBig.AssertError(HttpStatusCode.RequestEntityTooLarge, "PayloadTooLarge").Json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(0, await app.QueryAsync(db => db.InvitationImports.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id)));
    }

    [Fact]
    public async Task Five_MB_of_rows_are_read_to_the_last_line()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail("big");
        var message = new string('m', 400);
        var csv = new StringBuilder("email,message\r\n");
        while (csv.Length < 5 * 1024 * 1024)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{email},\"{message}\"\r\n");
        }
        var total = csv.ToString().Split("\r\n").Length - 2;

        var started = await UploadAsync(tenant, csv.ToString());

        var importId = started.AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();
        Assert.Equal(total, started.Value.GetProperty("totalRows").GetInt32());
        var done = await WaitForAsync(tenant, importId, "Completed", seconds: 120);
        Assert.Equal((total, 1, total - 1), (done.GetProperty("processedRows").GetInt32(), done.GetProperty("created").GetInt32(), done.GetProperty("skipped").GetInt32()));
        var results = await ResultsAsync(tenant, importId);
        Assert.Equal(total + 1, results.Count);
        Assert.Equal((total + 1).ToString(CultureInfo.InvariantCulture), results[^1][0]);
    }

    [Fact]
    public async Task A_small_quota_paces_the_import_which_leaves_the_reserve_for_people_and_resumes_on_its_own()
    {
        var tenant = await app.CreateTenantAsync();
        // 10 an hour, 1 of them (10%) kept for people; the Owner's invitation already used one at the tenant's creation.
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/settings", tenant.OwnerToken, new { emailsPerHour = 10 })).AssertSuccess();
        var ownerEmailAt = await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().Where(m => m.TenantId == tenant.Id).MinAsync(m => m.CreatedAt));
        var emails = Enumerable.Range(0, 20).Select(i => Scenarios.UniqueEmail($"paced{i}")).ToArray();
        var startedAt = app.Clock.GetUtcNow().UtcDateTime;

        var importId = (await UploadAsync(tenant, "email\n" + string.Join("\n", emails))).AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();

        var waiting = await WaitForAsync(tenant, importId, "WaitingForQuota");
        Assert.Equal((8, 8), (waiting.GetProperty("processedRows").GetInt32(), waiting.GetProperty("created").GetInt32()));
        // Its 9 of the hour are used when the Owner's email of the tenant's creation turns an hour old.
        Assert.Equal(ownerEmailAt.AddHours(1), waiting.GetProperty("nextRunAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        // The reserve is left for people: an admin's own invitation goes out, and the next is refused.
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail("person") }, tenant.OwnerToken))
            .AssertSuccess(HttpStatusCode.Created);
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail("person") }, tenant.OwnerToken))
            .AssertError((HttpStatusCode)429, "RateLimited");

        // An hour later, the import goes on by itself: 9 more, then the last 3.
        app.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        var again = await Eventually.ValueAsync(async () => (await app.GetAsync($"{ImportPath(tenant.Id)}/{importId}", tenant.OwnerToken)).AssertSuccess(),
            i => i.GetProperty("processedRows").GetInt32() == 17 && i.GetProperty("status").GetString() == "WaitingForQuota", 60);
        Assert.Equal(startedAt.AddHours(2).AddSeconds(1), again.GetProperty("nextRunAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        app.Clock.Advance(TimeSpan.FromHours(1));
        var done = await WaitForAsync(tenant, importId, "Completed");
        Assert.Equal((20, 20, 0), (done.GetProperty("created").GetInt32(), done.GetProperty("processedRows").GetInt32(), done.GetProperty("failed").GetInt32()));
        foreach (var email in emails)
        {
            Assert.Single(await app.WaitForEmailAsync(email));
        }
    }

    [Fact]
    public async Task A_cancelled_import_keeps_the_rows_it_did_and_never_resumes()
    {
        var tenant = await app.CreateTenantAsync();
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/settings", tenant.OwnerToken, new { emailsPerHour = 4 })).AssertSuccess();
        var importId = (await UploadAsync(tenant, "email\n" + string.Join("\n", Enumerable.Range(0, 6).Select(i => Scenarios.UniqueEmail($"c{i}")))))
            .AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();
        await WaitForAsync(tenant, importId, "WaitingForQuota");

        var cancelled = (await app.DeleteAsync($"{ImportPath(tenant.Id)}/{importId}", tenant.OwnerToken)).AssertSuccess();

        Assert.Equal("Cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal(3, cancelled.GetProperty("created").GetInt32());
        Assert.Equal(JsonValueKind.Null, cancelled.GetProperty("nextRunAt").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, cancelled.GetProperty("finishedAt").ValueKind);
        app.Clock.Advance(TimeSpan.FromHours(2));
        var again = (await app.DeleteAsync($"{ImportPath(tenant.Id)}/{importId}", tenant.OwnerToken)).AssertSuccess();
        Assert.Equal(cancelled.GetRawText(), again.GetRawText());
        await Task.Delay(500); // several polls of the runner
        Assert.Equal(cancelled.GetRawText(), (await app.GetAsync($"{ImportPath(tenant.Id)}/{importId}", tenant.OwnerToken)).AssertSuccess().GetRawText());
        Assert.Equal(3, (await ResultsAsync(tenant, importId)).Count - 1);
        Assert.Equal(["import.started", "import.cancelled"], await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .Where(e => e.TenantId == tenant.Id && e.TargetId == importId).OrderBy(e => e.Id).Select(e => e.Action).ToListAsync()));
        Assert.Equal(0, await app.QueryAsync(db => db.ImportFiles.CountAsync(f => f.ImportId == importId)));
    }

    [Fact]
    public async Task Results_are_deleted_after_the_retention_days_and_then_404()
    {
        var tenant = await app.CreateTenantAsync();
        var importId = (await UploadAsync(tenant, $"email\n{Scenarios.UniqueEmail("kept")}\n")).AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();
        await WaitForAsync(tenant, importId, "Completed");
        var retention = app.Services.GetServices<IHostedService>().OfType<ImportRetention>().Single();

        app.Clock.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1));
        while (await retention.DeleteBatchAsync(CancellationToken.None))
        {
        }
        Assert.Equal(2, (await ResultsAsync(tenant, importId)).Count);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        while (await retention.DeleteBatchAsync(CancellationToken.None))
        {
        }

        var gone = (await app.GetAsync($"{ImportPath(tenant.Id)}/{importId}/results", tenant.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        Assert.Equal("The import's results were deleted 7 days after it finished, since they hold addresses.", gone.Json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(0, await app.QueryAsync(db => db.ImportResults.CountAsync(r => r.ImportId == importId)));
        Assert.Equal("Completed", (await app.GetAsync($"{ImportPath(tenant.Id)}/{importId}", tenant.OwnerToken)).AssertSuccess().GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_same_file_with_the_same_key_starts_one_import_and_another_file_is_422()
    {
        var tenant = await app.CreateTenantAsync();
        var csv = $"email\n{Scenarios.UniqueEmail("idem")}\n";

        var first = await UploadAsync(tenant, csv, key: "import-1");
        var replay = await UploadAsync(tenant, csv, key: "import-1");
        var other = await UploadAsync(tenant, csv + "x@example.test\n", key: "import-1");

        first.AssertSuccess(HttpStatusCode.Accepted);
        Assert.Equal(HttpStatusCode.Accepted, replay.Status);
        Assert.Equal(first.Body, replay.Body);
        Assert.Equal(first.Headers.Location, replay.Headers.Location);
        other.AssertError((HttpStatusCode)422, "IdempotencyKeyReused");
        Assert.Equal(1, await app.QueryAsync(db => db.InvitationImports.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id)));
    }

    [Fact]
    public async Task Another_tenants_import_is_404_everywhere_and_imports_list_newest_first()
    {
        var tenant = await app.CreateTenantAsync();
        var other = await app.CreateTenantAsync();
        var first = (await UploadAsync(tenant, $"email\n{Scenarios.UniqueEmail("l1")}\n")).AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var second = (await UploadAsync(tenant, $"email\n{Scenarios.UniqueEmail("l2")}\n")).AssertSuccess(HttpStatusCode.Accepted).GetProperty("id").GetInt64();

        foreach (var path in new[] { $"{ImportPath(other.Id)}/{first}", $"{ImportPath(other.Id)}/{first}/results" })
        {
            (await app.GetAsync(path, other.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        }
        (await app.DeleteAsync($"{ImportPath(other.Id)}/{first}", other.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        Assert.Empty((await app.GetAsync(ImportPath(other.Id), other.OwnerToken)).AssertSuccess().EnumerateArray());

        var page = await app.GetAsync($"{ImportPath(tenant.Id)}?limit=1", tenant.OwnerToken);
        Assert.Equal([second], page.AssertSuccess().EnumerateArray().Select(i => i.GetProperty("id").GetInt64()));
        var next = page.Headers.GetValues("Link").Single();
        var rest = await app.GetAsync(next[1..next.IndexOf('>')], tenant.OwnerToken);
        Assert.Equal([first], rest.AssertSuccess().EnumerateArray().Select(i => i.GetProperty("id").GetInt64()));
        (await app.GetAsync($"{ImportPath(tenant.Id)}/abc", tenant.OwnerToken)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
        await WaitForAsync(tenant, second, "Completed");
    }
}
