// The better-auth peer of the benchmark: better-auth with its organization plugin behind plain node:http.
//   node server.mjs migrate                      creates better-auth's tables with its own migration planner
//   node server.mjs seed TENANTS POOL [ACCEPT [MILLION]]  writes the benchmark's rows straight into them, prints the cookies (one JSON line)
//   node server.mjs serve PORT                   answers on 127.0.0.1:PORT until SIGTERM
// Every command reads PEER_PROVIDER (postgres | sqlite), PEER_DATABASE (a connection string, or the SQLite file) and
// PEER_SECRET (the signing secret: the seed signs cookies that the server must accept). See README.md.
import { createServer } from "node:http";
import { createHmac } from "node:crypto";
import { betterAuth } from "better-auth";
import { organization } from "better-auth/plugins/organization";
import { toNodeHandler } from "better-auth/node";
import { getMigrations } from "better-auth/db/migration";
import { seed } from "./seed.mjs";

const provider = required("PEER_PROVIDER");
const secret = required("PEER_SECRET");
const [command, ...args] = process.argv.slice(2);

const database = await open(provider, required("PEER_DATABASE"));
const port = command === "serve" ? Number(args[0] ?? process.env.PORT) : 0;
const baseURL = `http://127.0.0.1:${port}`;
const auth = betterAuth({
  baseURL,
  secret,
  database: database.handle,
  telemetry: { enabled: false },
  // Its default is on in production, 100 requests per 10 s per address: wrk is one address. The service's own limit on
  // the token endpoints is raised for the benchmark as well.
  rateLimit: { enabled: false },
  plugins: [
    organization({
      // The benchmark receives no email from the peer: better-auth leaves sending to the application, and this one sends nothing.
      sendInvitationEmail: async () => {},
      // The default is 100 pending invitations per organization, which the seeded resend pool already reaches in the quick run.
      invitationLimit: Number.MAX_SAFE_INTEGER,
    }),
  ],
});

switch (command) {
  case "migrate": {
    const { runMigrations, toBeCreated, toBeAdded } = await getMigrations(auth.options);
    await runMigrations();
    console.error(`migrated: ${toBeCreated.length} tables created, ${toBeAdded.length} changed`);
    await database.close();
    break;
  }
  case "seed": {
    const tenants = count(args[0], "TENANTS");
    const pool = count(args[1], "POOL");
    const accept = count(args[2] ?? String(pool), "ACCEPT");
    const million = count(args[3] ?? "1000000", "MILLION");
    const sessions = await seed(database, { tenants, pool, accept, million });
    console.log(JSON.stringify({
      cookie: sessionCookie(sessions.admin),
      inviteeCookie: sessionCookie(sessions.invitee),
      tenants,
      pool,
    }));
    await database.close();
    break;
  }
  case "serve": {
    if (!Number.isInteger(port) || port <= 0) fail("serve needs a port");
    // Everything is better-auth's, readiness included (GET /api/auth/ok), so nothing here adds to a measured request.
    const server = createServer(toNodeHandler(auth));
    server.listen(port, "127.0.0.1", () => console.error(`better-auth peer on ${baseURL} (${provider})`));
    const stop = () => {
      server.close(async () => { await database.close(); process.exit(0); });
      server.closeIdleConnections();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    break;
  }
  default:
    fail("usage: node server.mjs migrate | seed TENANTS POOL [ACCEPT [MILLION]] | serve PORT");
}

// The session cookie as better-auth (through better-call) signs it: the token, a dot, and the standard base64 of
// HMAC-SHA256(secret, token), percent-encoded as one cookie value.
function sessionCookie(token) {
  const signature = createHmac("sha256", secret).update(token).digest("base64");
  return `better-auth.session_token=${encodeURIComponent(`${token}.${signature}`)}`;
}

async function open(kind, target) {
  if (kind === "postgres") {
    const { default: pg } = await import("pg");
    // pg's own default pool (10 connections), as an application that hands better-auth a Pool gets.
    const pool = new pg.Pool({ connectionString: target });
    return {
      kind,
      handle: pool,
      exec: async (sql) => { await pool.query(sql); },
      close: () => pool.end(),
    };
  }
  if (kind === "sqlite") {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(target);
    // The service's settings (WAL, synchronous NORMAL, 5 s busy timeout); better-sqlite3 leaves SQLite's defaults otherwise.
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    return {
      kind,
      handle: db,
      exec: async (sql) => { db.exec(sql); },
      close: async () => db.close(),
    };
  }
  fail(`PEER_PROVIDER must be postgres or sqlite, not ${kind}`);
}

function required(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set`);
  return value;
}

function count(text, name) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) fail(`${name} must be a whole number`);
  return value;
}

function fail(message) {
  console.error(message);
  process.exit(2);
}
