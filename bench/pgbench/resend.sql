-- What one PUT /tenant/{tenantId}/admin/user/invitation/resend?id= sends to PostgreSQL, statement for statement and round
-- trip for round trip. Captured from the service's own command log (Microsoft.EntityFrameworkCore.Database.Command at
-- Information, JSON console logs with scopes, one request); bench/Bench/SqlCapture.cs captures it again at every run and
-- compares. Where the service sends a parameter, this sends a pgbench variable; parameters it sends as NULL are NULL.
-- EF Core updates only the columns that change: this is the resend of an invitation with no last delivery attempt time,
-- as in the seeded pool (one with such a time also clears delivery_last_attempt_at).
-- The service has Npgsql prepare its statements (docs/benchmarks.md), so pgbench runs with -M prepared.
-- The write is one command of two statements (Data/OneRoundTrip.cs), which Npgsql sends in one round trip and PostgreSQL
-- runs in one implicit transaction: a pipeline does the same here.
-- n counts this client's transactions (pgbench keeps a client's variables from one transaction to the next): each
-- resend takes a row of the pool no other resend took, and new ids grow as the service's do.
\set n :n + 1
\set k :pool_first + :client_id + :clients * :n
\set id :pool_base + :k
\set tenant 1 + :k % :tenants
\set outbox_id :id_base + 3 * (:client_id * 100000000 + :n)
\set audit_id :outbox_id + 1
\set event_id :outbox_id + 2
\set hash random(1000000000000000000, 9000000000000000000)
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
    LIMIT 1) AS "ByEmail", t.emails_per_hour AS "EmailsPerHour", i0.id, i0.accepted_at, i0.accepted_user_id, i0.created_at, i0.declined_at, i0.delivery_attempts, i0.delivery_last_attempt_at, i0.delivery_last_error, i0.delivery_outbox_id, i0.delivery_status, i0.email, i0.expires_at, i0.expiry_announced, i0.invited_by, i0.last_sent_at, i0.locale, i0.message, i0.normalized_email, i0.recent_sends, i0.revoked_at, i0.role, i0.send_count, i0.status, i0.tenant_id, i0.token_hash, i0.validity_days, i0.version
FROM tenants AS t
LEFT JOIN (
    SELECT i.id, i.accepted_at, i.accepted_user_id, i.created_at, i.declined_at, i.delivery_attempts, i.delivery_last_attempt_at, i.delivery_last_error, i.delivery_outbox_id, i.delivery_status, i.email, i.expires_at, i.expiry_announced, i.invited_by, i.last_sent_at, i.locale, i.message, i.normalized_email, i.recent_sends, i.revoked_at, i.role, i.send_count, i.status, i.tenant_id, i.token_hash, i.validity_days, i.version
    FROM invitations AS i
    WHERE i.tenant_id = :tenant AND i.id = :id
) AS i0 ON t.id = i0.tenant_id
WHERE t.id = :tenant
LIMIT 1 \gset old_
\set new_version :old_version + 1
\set send_count :old_send_count + 1
\startpipeline
SELECT 1 FROM tenants WHERE id = :tenant FOR NO KEY UPDATE;
WITH guard AS (SELECT created_at FROM outbox_messages
WHERE tenant_id = :tenant AND created_at > :hour_ago
ORDER BY created_at DESC OFFSET :quota_offset LIMIT 1),
changed AS (UPDATE invitations SET delivery_attempts = :zero, delivery_outbox_id = :outbox_id, delivery_status = :queued, expires_at = :expires, last_sent_at = :now, recent_sends = :recent_sends, send_count = :send_count, token_hash = :hash, version = :new_version WHERE id = :id AND version = :old_version AND NOT EXISTS (SELECT FROM guard) RETURNING 1),
inserted0 AS (INSERT INTO superseded_tokens (hash, invitation_id, superseded_at) SELECT :old_token_hash, :id, :now FROM changed),
inserted1 AS (INSERT INTO outbox_messages (id, attempts, created_at, first_attempt_at, invitation_id, last_attempt_at, last_error, locked_by, locked_until, message_id, next_attempt_at, protected_token, sent_at, status, tenant_id) SELECT :outbox_id, :zero, :now, NULL, :id, NULL, NULL, NULL, NULL, :outbox_id, :now, :protected_token, NULL, :queued, :tenant FROM changed),
inserted2 AS (INSERT INTO audit_events (id, action, actor_email, actor_is_platform_admin, actor_subject, client_address, details, occurred_at, target_id, target_type, tenant_id, trace_id) SELECT :audit_id, :resent_action, :admin_email, :false, :sub, :client_address, :resent_details, :now, :id, :target_type, :tenant, :trace_id FROM changed),
inserted3 AS (INSERT INTO events (id, actor_email, actor_is_platform_admin, actor_subject, data, occurred_at, position, tenant_id, trace_id, type) SELECT :event_id, :admin_email, :false, :sub, :event_data, :now, NULL, :tenant, :trace_id, :resent_action FROM changed)
SELECT (SELECT count(*) FROM changed), (SELECT * FROM guard LIMIT 1);
\endpipeline
