-- The floor for GET /tenant/{tenantId}/admin/user/invitation/{id}: one statement reading the row, guarded by the caller's
-- role, on the service's schema and the benchmark's seed (a random row of the resend pool, as bench/wrk/get.lua asks for).
\set k random(0, :pool - 1)
\set id :pool_base + :k
\set tenant 1 + :k % :tenants
SELECT i.*
FROM invitations AS i
WHERE i.id = :id AND i.tenant_id = :tenant
  AND EXISTS (SELECT FROM memberships AS m JOIN users AS u ON u.id = m.user_id
              WHERE m.tenant_id = :tenant AND u.subject = :sub AND m.role IN ('Owner', 'Admin'));
