// The built package (dist/) against a real service process. The xunit harness (tests/TenantInvitations.Tests/Clients) starts the
// service and sets TI_BASE_URL, TI_ADMIN_TOKEN (a platform admin's, never printed), TI_ADMIN_SUBJECT, TI_ADMIN_EMAIL,
// TI_MAIL_DIR (the service's pickup directory) and TI_RESEND_COOLDOWN_SECONDS (its Invitations:ResendCooldown).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import {
  call, createInvitationsClient, importResults, nextCursor, nextLink, startImport, verifyWebhook, TenantInvitationsError,
  WebhookVerificationError,
} from "../dist/index.js";

function setting(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these tests through the xunit harness (TypeScriptClientTests).`);
  }
  return value;
}

const baseUrl = setting("TI_BASE_URL");
const adminToken = setting("TI_ADMIN_TOKEN");
const adminActor = { subject: setting("TI_ADMIN_SUBJECT"), email: setting("TI_ADMIN_EMAIL"), isPlatformAdmin: true };
const mailDir = setting("TI_MAIL_DIR");
const cooldownSeconds = Number(setting("TI_RESEND_COOLDOWN_SECONDS"));

// The token as a function: asked for before every request.
const admin = createInvitationsClient({ baseUrl, token: () => adminToken });
const anonymous = createInvitationsClient({ baseUrl });

const run = randomUUID().slice(0, 8);
let serial = 0;
const unique = (label) => `${label}-${run}-${++serial}`;
const day = 24 * 60 * 60 * 1000;
const plus = (iso, ms) => new Date(Date.parse(iso) + ms).toISOString();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function newTenant() {
  const name = unique("Acme");
  const ownerEmail = `${unique("owner")}@acme.test`;
  const tenant = await call(admin.POST("/tenant", { body: { name, ownerEmail } }));
  return { tenant, name, ownerEmail };
}

async function invite(tenantId, email) {
  const created = await call(admin.POST("/tenant/{tenantId}/admin/user/invitation", { params: { path: { tenantId } }, body: { email } }));
  assert.equal(created.length, 1);
  return created[0];
}

// Expects the call to fail with a TenantInvitationsError and returns it.
async function failure(promise) {
  try {
    await call(promise);
  } catch (error) {
    assert.ok(error instanceof TenantInvitationsError, `expected a TenantInvitationsError, got ${error}`);
    return error;
  }
  assert.fail("the call succeeded");
}

// The pickup directory's emails to one address, as {subject, text} (the plain-text part is not encoded).
async function emailsTo(address) {
  let files;
  try {
    files = (await readdir(mailDir)).filter((f) => f.endsWith(".eml"));
  } catch {
    return [];
  }
  const messages = [];
  for (const file of files.sort()) {
    const raw = await readFile(join(mailDir, file), "utf8");
    const headers = raw.split(/\r?\n\r?\n/, 1)[0];
    const to = /^To:\s*(.*)$/im.exec(headers)?.[1] ?? "";
    if (to.toLowerCase().includes(address.toLowerCase())) {
      messages.push({ subject: /^Subject:\s*(.*)$/im.exec(headers)?.[1] ?? "", raw });
    }
  }
  return messages;
}

async function waitForEmails(address, count) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const messages = await emailsTo(address);
    if (messages.length >= count || Date.now() > deadline) {
      assert.equal(messages.length, count, `emails to ${address}`);
      return messages;
    }
    await sleep(50);
  }
}

const withoutDelivery = ({ delivery, ...rest }) => rest;
// An invitation's times as instants, for comparing with times computed here: the service writes the shortest exact form
// ("…34.46Z"), toISOString always three digits ("…34.460Z"), the same instant.
const timeFields = ["createdAt", "expiresAt", "lastSentAt", "nextResendAt", "acceptedAt", "declinedAt", "revokedAt"];
const instants = (model) => Object.fromEntries(Object.entries(model).map(([key, value]) =>
  [key, timeFields.includes(key) && typeof value === "string" ? Date.parse(value) : value]));
const sending = ["Queued", "Sending", "Sent"];

test("creates a tenant with a platform admin's token and reads it back", async () => {
  const { tenant, name } = await newTenant();
  assert.ok(Number.isSafeInteger(tenant.id) && tenant.id > 0);
  assert.match(tenant.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.ok(Math.abs(Date.parse(tenant.createdAt) - Date.now()) < 60_000);
  assert.deepEqual(tenant, { id: tenant.id, name, createdAt: tenant.createdAt });
  assert.deepEqual(await call(admin.GET("/tenant/{tenantId}", { params: { path: { tenantId: tenant.id } } })), tenant);
});

test("creates an invitation with only an email and gets it", async () => {
  const { tenant } = await newTenant();
  const email = `${unique("only-email")}@acme.test`;
  const invitation = await invite(tenant.id, email);
  assert.deepEqual(instants(withoutDelivery(invitation)), instants({
    id: invitation.id, tenantId: tenant.id, email, role: "Member", status: "Pending",
    createdAt: invitation.createdAt, expiresAt: plus(invitation.createdAt, 7 * day), lastSentAt: invitation.createdAt,
    sendCount: 1, nextResendAt: plus(invitation.createdAt, cooldownSeconds * 1000), invitedBy: adminActor.email,
    acceptedAt: null, declinedAt: null, revokedAt: null,
  }));
  assert.deepEqual(invitation.delivery, { status: "Queued", attempts: 0, lastAttemptAt: null, lastError: null });

  const got = await call(admin.GET("/tenant/{tenantId}/admin/user/invitation/{id}", { params: { path: { tenantId: tenant.id, id: invitation.id } } }));
  assert.deepEqual(withoutDelivery(got), withoutDelivery(invitation));
  assert.ok(sending.includes(got.delivery.status), got.delivery.status);
});

test("lists invitations newest first and pages with limit and the next cursor", async () => {
  const { tenant, ownerEmail } = await newTenant();
  const emails = [];
  for (let i = 0; i < 3; i++) {
    emails.push((await invite(tenant.id, `${unique("page")}@acme.test`)).email);
  }
  const newestFirst = [...emails].reverse().concat(ownerEmail);

  const pages = [];
  let after;
  for (let i = 0; i < 5; i++) {
    const query = after === undefined ? { limit: 2 } : { limit: 2, after };
    const result = admin.GET("/tenant/{tenantId}/admin/user/invitation", { params: { path: { tenantId: tenant.id }, query } });
    const page = await call(result);
    pages.push(page.map((invitation) => invitation.email));
    after = nextCursor((await result).response);
    if (after === undefined) {
      break;
    }
  }
  assert.deepEqual(pages[0], newestFirst.slice(0, 2));
  assert.deepEqual(pages.flat(), newestFirst);
  assert.equal(after, undefined, "the last page has no next link");

  // The Link header's target is the same list, relative to the service.
  const first = await admin.GET("/tenant/{tenantId}/admin/user/invitation", { params: { path: { tenantId: tenant.id }, query: { limit: 2 } } });
  const link = nextLink(first.response);
  assert.ok(link?.startsWith(`/tenant/${tenant.id}/admin/user/invitation?`), link);
  assert.equal(new URL(link, baseUrl).searchParams.get("limit"), "2");
});

test("resend answers 200, an immediate second resend is 429 with Retry-After, and only one resend email goes out", async () => {
  const { tenant } = await newTenant();
  const email = `${unique("resend")}@acme.test`;
  const invitation = await invite(tenant.id, email);
  await sleep(Math.max(0, Date.parse(invitation.nextResendAt) - Date.now()) + 200);

  const resend = () => admin.PUT("/tenant/{tenantId}/admin/user/invitation/resend", { params: { path: { tenantId: tenant.id }, query: { id: invitation.id } } });
  const [resent] = await call(resend());
  assert.ok(Date.parse(resent.lastSentAt) > Date.parse(invitation.lastSentAt));
  assert.deepEqual(instants(withoutDelivery(resent)), instants({
    ...withoutDelivery(invitation), sendCount: 2, lastSentAt: resent.lastSentAt, expiresAt: plus(resent.lastSentAt, 7 * day),
    nextResendAt: plus(resent.lastSentAt, cooldownSeconds * 1000),
  }));

  const refused = await failure(resend());
  assert.equal(refused.status, 429);
  assert.equal(refused.code, "RateLimited");
  assert.equal(refused.message, "This invitation was sent moments ago; wait for the cooldown to pass.");
  assert.ok(refused.retryAfter !== undefined && refused.retryAfter > 0 && refused.retryAfter <= cooldownSeconds, `retryAfter ${refused.retryAfter}`);
  assert.deepEqual(refused.info, [`Retry after ${refused.retryAfter} seconds.`]);
  assert.match(refused.traceId ?? "", /^[0-9a-f]{32}$/);
  assert.equal(refused.name, "TenantInvitationsError");

  // The create's email and the resend's; the refused resend sent nothing and changed nothing.
  const messages = await waitForEmails(email, 2);
  await sleep(1000);
  assert.equal((await emailsTo(email)).length, 2);
  assert.equal(messages[0].subject, messages[1].subject);
  const got = await call(admin.GET("/tenant/{tenantId}/admin/user/invitation/{id}", { params: { path: { tenantId: tenant.id, id: invitation.id } } }));
  assert.deepEqual(withoutDelivery(got), withoutDelivery(resent));
});

test("revokes an invitation, after which resend is 409 InvitationNotPending", async () => {
  const { tenant } = await newTenant();
  const invitation = await invite(tenant.id, `${unique("revoke")}@acme.test`);
  const [revoked] = await call(admin.PUT("/tenant/{tenantId}/admin/user/invitation/revoke", { params: { path: { tenantId: tenant.id }, query: { id: invitation.id } } }));
  assert.ok(revoked.revokedAt !== null && Date.parse(revoked.revokedAt) >= Date.parse(invitation.createdAt));
  assert.deepEqual(withoutDelivery(revoked), { ...withoutDelivery(invitation), status: "Revoked", revokedAt: revoked.revokedAt, nextResendAt: null });

  const refused = await failure(admin.PUT("/tenant/{tenantId}/admin/user/invitation/resend", { params: { path: { tenantId: tenant.id }, query: { id: invitation.id } } }));
  assert.equal(refused.status, 409);
  assert.equal(refused.code, "InvitationNotPending");
  assert.equal(refused.retryAfter, undefined);
  assert.ok(refused.info.some((line) => line.includes("Revoked")), refused.info.join(" | "));
});

test("lists members: the Owner who accepted the tenant's first invitation", async () => {
  const { tenant, ownerEmail } = await newTenant();
  const [email] = await waitForEmails(ownerEmail, 1);
  const token = /\/accept\?token=([A-Za-z0-9_-]+)/.exec(email.raw)?.[1];
  assert.ok(token, "the email has an accept link");
  const accepted = await call(anonymous.POST("/invitation/accept", { body: { token } }));
  assert.deepEqual(accepted, { tenantId: tenant.id, userId: accepted.userId, role: "Owner" });

  const members = await call(admin.GET("/tenant/{tenantId}/admin/user", { params: { path: { tenantId: tenant.id } } }));
  assert.equal(members.length, 1);
  assert.ok(Math.abs(Date.parse(members[0].joinedAt) - Date.now()) < 60_000);
  assert.deepEqual(members, [{ userId: accepted.userId, email: ownerEmail, displayName: null, role: "Owner", joinedAt: members[0].joinedAt }]);
});

test("gets the tenant's settings and puts one field", async () => {
  const { tenant, name } = await newTenant();
  const path = { tenantId: tenant.id };
  const before = await call(admin.GET("/tenant/{tenantId}/admin/settings", { params: { path } }));
  assert.deepEqual(before, {
    name, displayName: null, replyTo: null, defaultLocale: "en", invitationValidityDays: 7, allowedEmailDomains: [], emailsPerHour: before.emailsPerHour,
  });
  assert.ok(Number.isInteger(before.emailsPerHour) && before.emailsPerHour > 0);

  const after = await call(admin.PUT("/tenant/{tenantId}/admin/settings", { params: { path }, body: { displayName: "Acme Support" } }));
  assert.deepEqual(after, { ...before, displayName: "Acme Support" });
  assert.deepEqual(await call(admin.GET("/tenant/{tenantId}/admin/settings", { params: { path } })), after);
});

test("lists the tenant's events, with the invitation's among them, and a next link on every page", async () => {
  const { tenant } = await newTenant();
  const invitation = await invite(tenant.id, `${unique("events")}@acme.test`);
  const [revoked] = await call(admin.PUT("/tenant/{tenantId}/admin/user/invitation/revoke", { params: { path: { tenantId: tenant.id }, query: { id: invitation.id } } }));

  const events = [];
  let after;
  for (let i = 0; i < 20; i++) {
    const query = after === undefined ? { limit: 2 } : { limit: 2, after };
    const result = admin.GET("/tenant/{tenantId}/admin/events", { params: { path: { tenantId: tenant.id }, query } });
    const page = await call(result);
    after = nextCursor((await result).response);
    assert.ok(after, "every page of the feed links the next");
    if (page.length === 0) {
      break;
    }
    events.push(...page);
  }
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, "no event twice");
  const tenantCreated = events.find((e) => e.type === "tenant.created");
  assert.deepEqual(tenantCreated, { id: tenantCreated.id, type: "tenant.created", tenantId: tenant.id, occurredAt: tenant.createdAt, actor: adminActor, data: tenant });

  const mine = events.filter((e) => e.data?.id === invitation.id && (e.type === "invitation.created" || e.type === "invitation.revoked"));
  assert.deepEqual(mine.map((e) => e.type), ["invitation.created", "invitation.revoked"]);
  assert.deepEqual(mine[0], { id: mine[0].id, type: "invitation.created", tenantId: tenant.id, occurredAt: invitation.createdAt, actor: adminActor, data: invitation });
  assert.deepEqual({ ...mine[1], data: withoutDelivery(mine[1].data) },
    { id: mine[1].id, type: "invitation.revoked", tenantId: tenant.id, occurredAt: revoked.revokedAt, actor: adminActor, data: withoutDelivery(revoked) });
});

test("a webhook created through the client receives a signed delivery that verifyWebhook accepts, and a tampered one it refuses", async (t) => {
  const deliveries = [];
  const receiver = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk) => { body += chunk; });
    request.on("end", () => {
      deliveries.push({ headers: request.headers, body });
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise((resolve) => receiver.close(resolve)));
  const url = `http://127.0.0.1:${receiver.address().port}/hooks`;

  const { tenant } = await newTenant();
  const created = await call(admin.POST("/tenant/{tenantId}/admin/webhooks", {
    params: { path: { tenantId: tenant.id } }, body: { url, types: ["invitation.created"] },
  }));
  const { secret, ...webhook } = created;
  // Tested, never printed: a failed match would show the secret.
  assert.ok(/^whsec_[A-Za-z0-9+/]{43}=$/.test(secret), "the secret is whsec_ and the base64 of 32 bytes");
  assert.deepEqual(webhook, {
    id: webhook.id, url, types: ["invitation.created"], description: null, enabled: true, disabledReason: null, disabledAt: null, createdAt: webhook.createdAt,
  });

  const invitation = await invite(tenant.id, `${unique("hooked")}@acme.test`);
  const deadline = Date.now() + 20_000;
  while (deliveries.length === 0 && Date.now() < deadline) {
    await sleep(50);
  }
  assert.equal(deliveries.length, 1, "one delivery within 20 s");
  const [delivery] = deliveries;

  const event = verifyWebhook(delivery.body, delivery.headers, secret);
  assert.equal(delivery.headers["webhook-id"], String(event.id));
  assert.deepEqual(event, { id: event.id, type: "invitation.created", tenantId: tenant.id, occurredAt: invitation.createdAt, actor: adminActor, data: invitation });
  // The same delivery through a fetch Headers.
  assert.deepEqual(verifyWebhook(delivery.body, new Headers(Object.entries(delivery.headers)), secret), event);

  const tampered = delivery.body.replace(invitation.email, `x${invitation.email}`);
  assert.notEqual(tampered, delivery.body);
  assert.throws(() => verifyWebhook(tampered, delivery.headers, secret), WebhookVerificationError);
  const stale = { ...delivery.headers, "webhook-timestamp": String(Number(delivery.headers["webhook-timestamp"]) - 600) };
  assert.throws(() => verifyWebhook(delivery.body, stale, secret), WebhookVerificationError);
});

test("an unknown invitation is a 404 with its code and message", async () => {
  const { tenant } = await newTenant();
  const error = await failure(admin.GET("/tenant/{tenantId}/admin/user/invitation/{id}", { params: { path: { tenantId: tenant.id, id: 987654321 } } }));
  assert.equal(error.status, 404);
  assert.equal(error.code, "NotFound");
  assert.equal(error.message, "The invitation was not found.");
  assert.deepEqual(error.info, []);
  assert.equal(error.retryAfter, undefined);
  assert.match(error.traceId ?? "", /^[0-9a-f]{32}$/);
});

test("a call without a token is a 401 Unauthorized", async () => {
  const { tenant } = await newTenant();
  const error = await failure(anonymous.GET("/tenant/{tenantId}/admin/user/invitation", { params: { path: { tenantId: tenant.id } } }));
  assert.equal(error.status, 401);
  assert.equal(error.code, "Unauthorized");
  assert.equal(error.message, "Authentication is required.");
  assert.deepEqual(error.info, ["Send an 'Authorization: Bearer <token>' header."]);
});

test("a body that is not the envelope (a proxy's page) still becomes a TenantInvitationsError", async () => {
  const proxy = createInvitationsClient({
    baseUrl,
    fetch: async () => new Response("<html><body>Bad gateway</body></html>", {
      status: 502, statusText: "Bad Gateway", headers: { "Content-Type": "text/html", "Retry-After": "7" },
    }),
  });
  const error = await failure(proxy.GET("/tenant/{tenantId}", { params: { path: { tenantId: 1 } } }));
  assert.equal(error.status, 502);
  assert.equal(error.code, undefined);
  assert.equal(error.message, "HTTP 502 Bad Gateway without the service's envelope (text/html).");
  assert.deepEqual(error.info, []);
  assert.equal(error.retryAfter, 7);
});

test("bulk with an Idempotency-Key answers a repeat as the first time, and refuses the key with another body", async () => {
  const { tenant } = await newTenant();
  const key = randomUUID();
  const emails = [`${unique("bulk-a")}@acme.test`, `${unique("bulk-b")}@acme.test`];
  const send = (invitations) => admin.POST("/tenant/{tenantId}/admin/user/invitation/bulk", {
    params: { path: { tenantId: tenant.id }, header: { "Idempotency-Key": key } }, body: { invitations },
  });

  const first = await send(emails.map((email) => ({ email })));
  const rows = await call(first);
  assert.deepEqual(rows.map((row) => [row.index, row.email, row.status, row.error]), [[0, emails[0], "Created", null], [1, emails[1], "Created", null]]);
  const again = await send(emails.map((email) => ({ email })));
  assert.equal(again.response.headers.get("Idempotent-Replayed"), "true");
  assert.deepEqual(await call(again), rows);
  for (const email of emails) {
    await waitForEmails(email, 1); // one email each: the repeat sent nothing
  }

  const reused = await failure(send([{ email: `${unique("bulk-c")}@acme.test` }]));
  assert.equal(reused.status, 422);
  assert.equal(reused.code, "IdempotencyKeyReused");
  const listed = await call(admin.GET("/tenant/{tenantId}/admin/user/invitation", { params: { path: { tenantId: tenant.id } } }));
  assert.deepEqual(listed.map((i) => i.email).sort(), [...emails, listed.find((i) => i.role === "Owner").email].sort());
});

test("a CSV import starts as text/csv, runs to Completed, and its results come back as CSV text", async () => {
  const { tenant } = await newTenant();
  const emails = [`${unique("csv-a")}@acme.test`, `${unique("csv-b")}@acme.test`];
  const started = await call(startImport(admin, tenant.id, `email,role\n${emails[0]},Admin\n${emails[1]},\nnot-an-address,\n`, randomUUID()));
  assert.equal(started.status === "Queued" || started.status === "Running", true, started.status);
  assert.equal(started.totalRows, 3);

  const importPath = { params: { path: { tenantId: tenant.id, importId: started.id } } };
  let finished;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
    finished = await call(admin.GET("/tenant/{tenantId}/admin/user/invitation/import/{importId}", importPath));
    if (finished.status === "Completed") break;
  }
  assert.deepEqual([finished.status, finished.processedRows, finished.created, finished.skipped, finished.failed], ["Completed", 3, 2, 0, 1]);

  const csv = (await importResults(admin, tenant.id, started.id)).replace(/^\uFEFF/, "");
  const lines = csv.trim().split(/\r?\n/);
  assert.equal(lines[0], "line,email,status,invitationId,error");
  assert.deepEqual(lines.slice(1).map((line) => line.split(",").slice(0, 3)), [["2", emails[0], "Created"], ["3", emails[1], "Created"], ["4", "not-an-address", "Invalid"]]);

  const missing = await importResults(admin, tenant.id, 999999999).then(() => undefined, (error) => error);
  assert.ok(missing instanceof TenantInvitationsError);
  assert.deepEqual([missing.status, missing.code], [404, "NotFound"]);
});

test("the token goes to the service's origin only, and an empty token sends no header", async () => {
  const seen = [];
  const recording = (token) => createInvitationsClient({
    baseUrl: "https://invitations.example.com",
    token,
    fetch: async (request) => {
      seen.push([new URL(request.url).origin, request.headers.get("Authorization")]);
      return new Response(JSON.stringify({ isSuccess: true, isFailure: false, error: null, value: [] }), { headers: { "Content-Type": "application/json" } });
    },
  });
  await call(recording("s3cret").GET("/me/tenants"));
  await call(recording("s3cret").GET("/me/tenants", { baseUrl: "https://elsewhere.example.net" }));
  await call(recording("").GET("/me/tenants"));
  assert.deepEqual(seen, [
    ["https://invitations.example.com", "Bearer s3cret"],
    ["https://elsewhere.example.net", null],
    ["https://invitations.example.com", null],
  ]);
});

test("retryAfter reads seconds and HTTP dates, and nothing else", async () => {
  const answer = (retryAfter) => createInvitationsClient({
    baseUrl: "https://invitations.example.com",
    fetch: async () => new Response(
      JSON.stringify({ isSuccess: false, isFailure: true, error: { code: "RateLimited", message: "Later.", info: [] }, value: null }),
      { status: 429, headers: { "Content-Type": "application/json", "Retry-After": retryAfter } }),
  });
  const inTwoMinutes = new Date(Date.now() + 120_000).toUTCString();
  const read = async (header) => (await failure(answer(header).GET("/me/tenants"))).retryAfter;
  assert.equal(await read("30"), 30);
  assert.ok((await read(inTwoMinutes)) >= 100 && (await read(inTwoMinutes)) <= 120);
  assert.equal(await read("-5"), undefined);
  assert.equal(await read("1.5"), undefined);
});
