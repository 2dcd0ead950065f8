// The benchmark's rows, written with set-based SQL straight into the tables that `migrate` created (through better-auth's
// API, a million invitations would take hours). The same shape as the service's seed (bench/Bench/Seed.cs):
// - organizations org-1..org-N with the benchmark admin (admin@bench.test) as a member with role admin;
// - the resend pool: pending invitations r-k for rk@bench.test in org-(1 + k % N), created 2 hours ago;
// - a pool as large, a-k, that the peer never touches: the service's accept pool, so both tables hold as many rows;
// - org-thousand with 1,000 invitations and org-million with MILLION, one created per second going back from an hour ago;
// - for get, which better-auth answers only to the invitee: invitee@bench.test, invited to every org-n as g-n.
// Invitations are valid for 7 days from creation, as the service's are. Both users get one session each, valid for 7 days
// (better-auth's default); the caller turns the tokens into signed cookies.
import { randomBytes } from "node:crypto";

export const ADMIN_EMAIL = "admin@bench.test";
export const INVITEE_EMAIL = "invitee@bench.test";

export async function seed(database, { tenants, pool, accept, million }) {
  const admin = randomBytes(16).toString("hex");
  const invitee = randomBytes(16).toString("hex");
  const sql = database.kind === "postgres" ? postgres : sqlite;
  const statements = [
    sql.organizations(tenants),
    sql.users(admin, invitee),
    sql.members(),
    sql.invitations({ prefix: "r", count: pool, organization: `'org-' || (1 + k % ${tenants})`, email: "'r' || k || '@bench.test'", age: sql.seconds("7200") }),
    sql.invitations({ prefix: "a", count: accept, organization: `'org-' || (1 + k % ${tenants})`, email: "'a' || k || '@bench.test'", age: sql.seconds("3600") }),
    sql.invitations({ prefix: "t", count: 1_000, organization: "'org-thousand'", email: "'t' || k || '@bench.test'", age: sql.seconds("3600 + k") }),
    sql.invitations({ prefix: "m", count: million, organization: "'org-million'", email: "'m' || k || '@bench.test'", age: sql.seconds("3600 + k") }),
    // g-n is the invitee's invitation to org-n (k from 0, so n = k + 1).
    sql.invitations({ prefix: "g", count: tenants, organization: "'org-' || (k + 1)", email: `'${INVITEE_EMAIL}'`, age: sql.seconds("7200"), id: "'g-' || (k + 1)" }),
  ].filter(Boolean);
  await database.exec(sql.wrap(statements));
  for (const statement of sql.after) {
    await database.exec(statement);
  }
  return { admin, invitee };
}

const postgres = {
  seconds: (expression) => `now() - (${expression}) * interval '1 second'`,
  organizations: (tenants) => `
    INSERT INTO "organization" ("id", "name", "slug", "createdAt")
    SELECT 'org-' || n, 'Tenant ' || n, 'tenant-' || n, now() - interval '30 days' FROM generate_series(1, ${tenants}) n;
    INSERT INTO "organization" ("id", "name", "slug", "createdAt") VALUES
      ('org-thousand', 'A thousand invitations', 'a-thousand-invitations', now() - interval '30 days'),
      ('org-million', 'A million invitations', 'a-million-invitations', now() - interval '30 days')`,
  users: (admin, invitee) => `
    INSERT INTO "user" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt") VALUES
      ('admin', 'Bench admin', '${ADMIN_EMAIL}', true, now(), now()),
      ('invitee', 'Bench invitee', '${INVITEE_EMAIL}', true, now(), now());
    INSERT INTO "session" ("id", "token", "userId", "expiresAt", "createdAt", "updatedAt") VALUES
      ('session-admin', '${admin}', 'admin', now() + interval '7 days', now(), now()),
      ('session-invitee', '${invitee}', 'invitee', now() + interval '7 days', now(), now())`,
  members: () => `
    INSERT INTO "member" ("id", "organizationId", "userId", "role", "createdAt")
    SELECT 'member-' || "id", "id", 'admin', 'admin', now() FROM "organization"`,
  invitations: ({ prefix, count, organization, email, age, id }) => count <= 0 ? null : `
    INSERT INTO "invitation" ("id", "organizationId", "email", "role", "status", "expiresAt", "createdAt", "inviterId")
    SELECT ${id ?? `'${prefix}-' || k`}, ${organization}, ${email}, 'member', 'pending', c + interval '7 days', c, 'admin'
    FROM generate_series(0, ${count - 1}) k, LATERAL (SELECT ${age} AS c) t`,
  wrap: (statements) => `BEGIN;\n${statements.join(";\n")};\nCOMMIT;`,
  // As the service's seed: statistics for the planner, and the seed's WAL flushed now rather than in the middle of a run.
  after: ["VACUUM ANALYZE", "CHECKPOINT"],
};

// SQLite has no generate_series (without an extension): a recursive CTE counts instead. Dates are ISO 8601 text, as
// better-auth's Kysely adapter writes them there (Date.toISOString()).
const iso = (...modifiers) => `strftime('%Y-%m-%dT%H:%M:%fZ', 'now'${modifiers.map((m) => `, ${m}`).join("")})`;
const sqlite = {
  seconds: (expression) => `'-' || (${expression}) || ' seconds'`,
  organizations: (tenants) => `
    WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${tenants})
    INSERT INTO "organization" ("id", "name", "slug", "createdAt")
    SELECT 'org-' || n, 'Tenant ' || n, 'tenant-' || n, ${iso("'-30 days'")} FROM g;
    INSERT INTO "organization" ("id", "name", "slug", "createdAt") VALUES
      ('org-thousand', 'A thousand invitations', 'a-thousand-invitations', ${iso("'-30 days'")}),
      ('org-million', 'A million invitations', 'a-million-invitations', ${iso("'-30 days'")})`,
  users: (admin, invitee) => `
    INSERT INTO "user" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt") VALUES
      ('admin', 'Bench admin', '${ADMIN_EMAIL}', 1, ${iso()}, ${iso()}),
      ('invitee', 'Bench invitee', '${INVITEE_EMAIL}', 1, ${iso()}, ${iso()});
    INSERT INTO "session" ("id", "token", "userId", "expiresAt", "createdAt", "updatedAt") VALUES
      ('session-admin', '${admin}', 'admin', ${iso("'+7 days'")}, ${iso()}, ${iso()}),
      ('session-invitee', '${invitee}', 'invitee', ${iso("'+7 days'")}, ${iso()}, ${iso()})`,
  members: () => `
    INSERT INTO "member" ("id", "organizationId", "userId", "role", "createdAt")
    SELECT 'member-' || "id", "id", 'admin', 'admin', ${iso()} FROM "organization"`,
  invitations: ({ prefix, count, organization, email, age, id }) => count <= 0 ? null : `
    WITH RECURSIVE g(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM g WHERE k < ${count - 1})
    INSERT INTO "invitation" ("id", "organizationId", "email", "role", "status", "expiresAt", "createdAt", "inviterId")
    SELECT ${id ?? `'${prefix}-' || k`}, ${organization}, ${email}, 'member', 'pending', ${iso(age, "'+7 days'")}, ${iso(age)}, 'admin'
    FROM g`,
  wrap: (statements) => `BEGIN;\n${statements.join(";\n")};\nCOMMIT;`,
  // SQLite gathers no statistics by itself; without them it picks member_userId_idx for a member lookup (the admin's
  // row in every organization) over member_organizationId_idx. PostgreSQL's seed ends with ANALYZE as well.
  after: ["ANALYZE"],
};
