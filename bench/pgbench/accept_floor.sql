-- The floor for POST /invitation/accept without a bearer: the least SQL that does what an accept must, in one statement, on
-- the service's schema and the benchmark's seed (the accept pool, whose tokens are "bench" and the row index in 38 digits).
-- The invitation, found by its token's hash, is accepted only while pending and unexpired; the invitee's user is found by
-- email or made; the membership, the audit row and both events (invitation.accepted, member.added) are written.
\set n :n + 1
\set k :pool_first + :client_id + :clients * :n
\set user_id :id_base + 4 * (:client_id * 100000000 + :n)
\set audit_id :user_id + 1
\set event_id :user_id + 2
\set member_event_id :user_id + 3
WITH accepted AS (
    UPDATE invitations AS i
    SET status = 'Accepted', accepted_at = :now::timestamptz, version = i.version + 1,
        accepted_user_id = coalesce((SELECT u.id FROM users AS u WHERE u.normalized_email = i.normalized_email LIMIT 1), :user_id)
    WHERE i.token_hash = sha256(convert_to('bench' || lpad(:k::text, 38, '0'), 'UTF8'))
      AND i.status = 'Pending' AND i.expires_at > :now::timestamptz
    RETURNING i.id, i.tenant_id, i.email, i.normalized_email, i.role, i.accepted_user_id
), joined AS (
    INSERT INTO users (id, email, normalized_email, subject, created_at)
    SELECT :user_id, email, normalized_email, NULL, :now::timestamptz FROM accepted WHERE accepted_user_id = :user_id
), member AS (
    INSERT INTO memberships (tenant_id, user_id, role, joined_at)
    SELECT tenant_id, accepted_user_id, role, :now::timestamptz FROM accepted
), audited AS (
    INSERT INTO audit_events (id, action, actor_email, actor_is_platform_admin, actor_subject, client_address, details, occurred_at, target_id, target_type, tenant_id, trace_id)
    SELECT :audit_id, 'invitation.accepted', email, false, NULL, :client_address, 'user ' || accepted_user_id || ' joined as ' || role, :now::timestamptz, id, 'invitation', tenant_id, :trace_id
    FROM accepted
)
INSERT INTO events (id, actor_email, actor_is_platform_admin, actor_subject, data, occurred_at, tenant_id, trace_id, type)
SELECT e.id, a.email, false, NULL, :event_data, :now::timestamptz, a.tenant_id, :trace_id, e.type
FROM accepted AS a, (VALUES (:event_id::bigint, 'invitation.accepted'), (:member_event_id::bigint, 'member.added')) AS e (id, type);
