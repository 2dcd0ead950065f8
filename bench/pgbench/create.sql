-- What one POST /tenant/{tenantId}/admin/user/invitation sends to PostgreSQL, statement for statement and round trip for
-- round trip. Captured from the service's own command log (Microsoft.EntityFrameworkCore.Database.Command at Information,
-- JSON console logs with scopes, one request); bench/Bench/SqlCapture.cs captures it again at every run and compares.
-- Where the service sends a parameter, this sends a pgbench variable; parameters the service sends as NULL are NULL.
-- The service has Npgsql prepare its statements (docs/benchmarks.md), so pgbench runs with -M prepared.
-- The write is one command of two statements (Data/OneRoundTrip.cs), which Npgsql sends in one round trip and PostgreSQL
-- runs in one implicit transaction: a pipeline does the same here.
-- n counts this client's transactions (pgbench keeps a client's variables from one transaction to the next): new ids
-- grow as the service's do, and every address is new.
\set n :n + 1
\set k :client_id + :clients * :n
\set tenant 1 + :k % :tenants
\set invitation_id :id_base + 4 * (:client_id * 100000000 + :n)
\set outbox_id :invitation_id + 1
\set audit_id :invitation_id + 2
\set event_id :invitation_id + 3
\set hash random(1000000000000000000, 9000000000000000000)
\set email :invitation_id
SELECT (
    SELECT m.role
    FROM memberships AS m
    INNER JOIN users AS u ON m.user_id = u.id
    WHERE m.tenant_id = :tenant AND u.subject = :sub
    LIMIT 1) AS "BySubject", (
    SELECT m0.role
    FROM memberships AS m0
    INNER JOIN users AS u0 ON m0.user_id = u0.id
    WHERE m0.tenant_id = :tenant AND u0.subject IS NULL AND u0.normalized_email = :admin_email
    LIMIT 1) AS "ByEmail", t.id, t.allowed_email_domains, t.created_at, t.default_locale, t.display_name, t.emails_per_hour, t.invitation_validity_days, t.name, t.reply_to, EXISTS (
    SELECT 1
    FROM memberships AS m1
    INNER JOIN users AS u1 ON m1.user_id = u1.id
    WHERE m1.tenant_id = :tenant AND u1.normalized_email = :email) AS "IsMember", (
    SELECT i.id
    FROM invitations AS i
    WHERE i.tenant_id = :tenant AND i.normalized_email = :email AND i.status = 'Pending'
    LIMIT 1) AS "PendingId"
FROM tenants AS t
WHERE t.id = :tenant
LIMIT 1;
\startpipeline
SELECT 1 FROM tenants WHERE id = :tenant FOR NO KEY UPDATE;
WITH guard AS (SELECT created_at FROM outbox_messages
WHERE tenant_id = :tenant AND created_at > :hour_ago
ORDER BY created_at DESC OFFSET :quota_offset LIMIT 1),
changed AS (SELECT WHERE NOT EXISTS (SELECT FROM guard)),
inserted0 AS (INSERT INTO invitations (id, accepted_at, accepted_user_id, created_at, declined_at, delivery_attempts, delivery_last_attempt_at, delivery_last_error, delivery_outbox_id, delivery_status, email, expires_at, expiry_announced, invited_by, last_sent_at, locale, message, normalized_email, recent_sends, revoked_at, role, send_count, status, tenant_id, token_hash, validity_days, version) SELECT :invitation_id, NULL, NULL, :now, NULL, :zero, NULL, NULL, :outbox_id, :queued, :email, :expires, :false, :admin_email, :now, :locale, NULL, :email, :recent_sends, NULL, :member, :one, :pending, :tenant, :hash, :validity_days, :zero FROM changed),
inserted1 AS (INSERT INTO outbox_messages (id, attempts, created_at, first_attempt_at, invitation_id, last_attempt_at, last_error, locked_by, locked_until, message_id, next_attempt_at, protected_token, sent_at, status, tenant_id) SELECT :outbox_id, :zero, :now, NULL, :invitation_id, NULL, NULL, NULL, NULL, :outbox_id, :now, :protected_token, NULL, :queued, :tenant FROM changed),
inserted2 AS (INSERT INTO audit_events (id, action, actor_email, actor_is_platform_admin, actor_subject, client_address, details, occurred_at, target_id, target_type, tenant_id, trace_id) SELECT :audit_id, :created_action, :admin_email, :false, :sub, :client_address, :created_details, :now, :invitation_id, :target_type, :tenant, :trace_id FROM changed),
inserted3 AS (INSERT INTO events (id, actor_email, actor_is_platform_admin, actor_subject, data, occurred_at, position, tenant_id, trace_id, type) SELECT :event_id, :admin_email, :false, :sub, :event_data, :now, NULL, :tenant, :trace_id, :created_action FROM changed)
SELECT (SELECT count(*) FROM changed), (SELECT * FROM guard LIMIT 1);
\endpipeline
