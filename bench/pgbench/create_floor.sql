-- The floor for POST /tenant/{tenantId}/admin/user/invitation: the least SQL that does what a create must, in one statement,
-- on the service's schema and the benchmark's seed. The insert is guarded by the caller's role, the address not being a
-- member's, no pending invitation for it (the partial unique index) and the tenant's hourly email quota; the same statement
-- queues the outbox row and writes the audit row and the event. Run as resend_floor.sql is (ratio create_vs_floor).
\set n :n + 1
\set k :client_id + :clients * :n
\set tenant 1 + :k % :tenants
\set invitation_id :id_base + 4 * (:client_id * 100000000 + :n)
\set outbox_id :invitation_id + 1
\set audit_id :invitation_id + 2
\set event_id :invitation_id + 3
\set hash random(1000000000000000000, 9000000000000000000)
WITH caller AS (
    SELECT FROM memberships AS m JOIN users AS u ON u.id = m.user_id
    WHERE m.tenant_id = :tenant AND u.subject = :sub AND m.role IN ('Owner', 'Admin')
), tenant AS (
    SELECT t.id, coalesce(t.invitation_validity_days, 7) AS days, 'f' || :invitation_id::text || '@bench.test' AS email
    FROM tenants AS t
    WHERE t.id = :tenant AND EXISTS (SELECT FROM caller)
      AND NOT EXISTS (SELECT FROM memberships AS m JOIN users AS u ON u.id = m.user_id
                      WHERE m.tenant_id = t.id AND u.normalized_email = 'f' || :invitation_id::text || '@bench.test')
      AND NOT EXISTS (SELECT FROM outbox_messages AS o WHERE o.tenant_id = t.id AND o.created_at > :hour_ago::timestamptz
                      ORDER BY o.created_at DESC OFFSET :quota_offset::int LIMIT 1)
), invited AS (
    INSERT INTO invitations (id, tenant_id, email, normalized_email, role, status, token_hash, validity_days, locale, invited_by,
        created_at, expires_at, last_sent_at, send_count, recent_sends, version, delivery_outbox_id, delivery_status, delivery_attempts, expiry_announced)
    SELECT :invitation_id, id, email, email, 'Member', 'Pending', sha256(int8send(:hash)), days, 'en', :admin_email,
        :now::timestamptz, :now::timestamptz + days * interval '1 day', :now::timestamptz, 1, ARRAY[:now::timestamptz], 0, :outbox_id, 'Queued', 0, false
    FROM tenant
    ON CONFLICT (tenant_id, normalized_email) WHERE status = 'Pending' DO NOTHING
    RETURNING id, tenant_id
), queued AS (
    INSERT INTO outbox_messages (id, attempts, created_at, invitation_id, message_id, next_attempt_at, protected_token, status, tenant_id)
    SELECT :outbox_id, 0, :now::timestamptz, id, :outbox_id::text, :now::timestamptz, :protected_token, 'Queued', tenant_id FROM invited
), audited AS (
    INSERT INTO audit_events (id, action, actor_email, actor_is_platform_admin, actor_subject, client_address, details, occurred_at, target_id, target_type, tenant_id, trace_id)
    SELECT :audit_id, 'invitation.created', :admin_email, false, :sub, :client_address, 'role Member', :now::timestamptz, id, 'invitation', tenant_id, :trace_id FROM invited
)
INSERT INTO events (id, actor_email, actor_is_platform_admin, actor_subject, data, occurred_at, tenant_id, trace_id, type)
SELECT :event_id, :admin_email, false, :sub, :event_data, :now::timestamptz, tenant_id, :trace_id, 'invitation.created' FROM invited;
