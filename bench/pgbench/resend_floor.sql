-- The floor for PUT /tenant/{tenantId}/admin/user/invitation/resend?id=: the least SQL that does what a resend must, in one
-- statement, on the service's schema and the benchmark's seed. The invitation's update is guarded by the caller's role, its
-- status, its cooldown, its daily cap and the tenant's hourly email quota; the same statement records the superseded token,
-- queues the outbox row and writes the audit row and the event. bench/Bench runs it with pgbench -M prepared at 32
-- connections in the same run as the service (ratio resend_vs_floor); resend.sql is the service's own statements.
-- n counts this client's transactions: each resend takes a row of the pool no other took, and new ids grow as the service's do.
\set n :n + 1
\set k :pool_first + :client_id + :clients * :n
\set id :pool_base + :k
\set tenant 1 + :k % :tenants
\set outbox_id :id_base + 3 * (:client_id * 100000000 + :n)
\set audit_id :outbox_id + 1
\set event_id :outbox_id + 2
\set hash random(1000000000000000000, 9000000000000000000)
WITH caller AS (
    SELECT FROM memberships AS m JOIN users AS u ON u.id = m.user_id
    WHERE m.tenant_id = :tenant AND u.subject = :sub AND m.role IN ('Owner', 'Admin')
), over_quota AS (
    SELECT FROM outbox_messages AS o
    WHERE o.tenant_id = :tenant AND o.created_at > :hour_ago::timestamptz
    ORDER BY o.created_at DESC OFFSET :quota_offset::int LIMIT 1
), resent AS (
    UPDATE invitations AS i
    SET token_hash = sha256(int8send(:hash)), expires_at = :now::timestamptz + i.validity_days * interval '1 day',
        send_count = i.send_count + 1, last_sent_at = :now::timestamptz,
        recent_sends = i.recent_sends[greatest(1, cardinality(i.recent_sends) - 3):] || :now::timestamptz,
        expiry_announced = false, delivery_outbox_id = :outbox_id, delivery_status = 'Queued', delivery_attempts = 0,
        delivery_last_attempt_at = NULL, delivery_last_error = NULL, version = i.version + 1
    FROM invitations AS old
    WHERE i.id = :id AND i.tenant_id = :tenant AND old.id = i.id AND i.status = 'Pending'
      AND i.last_sent_at <= :cooldown_edge::timestamptz
      AND (SELECT count(*) FROM unnest(i.recent_sends) AS s WHERE s > :day_ago::timestamptz) < :max_sends::int
      AND EXISTS (SELECT FROM caller) AND NOT EXISTS (SELECT FROM over_quota)
    RETURNING i.id, i.tenant_id, i.send_count, old.token_hash AS superseded
), superseded AS (
    INSERT INTO superseded_tokens (hash, invitation_id, superseded_at)
    SELECT superseded, id, :now::timestamptz FROM resent
), queued AS (
    INSERT INTO outbox_messages (id, attempts, created_at, invitation_id, message_id, next_attempt_at, protected_token, status, tenant_id)
    SELECT :outbox_id, 0, :now::timestamptz, id, :outbox_id::text, :now::timestamptz, :protected_token, 'Queued', tenant_id FROM resent
), audited AS (
    INSERT INTO audit_events (id, action, actor_email, actor_is_platform_admin, actor_subject, client_address, details, occurred_at, target_id, target_type, tenant_id, trace_id)
    SELECT :audit_id, 'invitation.resent', :admin_email, false, :sub, :client_address, 'send ' || send_count, :now::timestamptz, id, 'invitation', tenant_id, :trace_id FROM resent
)
INSERT INTO events (id, actor_email, actor_is_platform_admin, actor_subject, data, occurred_at, tenant_id, trace_id, type)
SELECT :event_id, :admin_email, false, :sub, :event_data, :now::timestamptz, tenant_id, :trace_id, 'invitation.resent' FROM resent;
