-- The floor for the first page of GET /tenant/{tenantId}/admin/user/invitation: one statement reading the newest 50 rows
-- and one more (which says whether there is a next page), guarded by the caller's role, on the tenant with 1,000 invitations.
SELECT i.*
FROM invitations AS i
WHERE i.tenant_id = :list_tenant
  AND EXISTS (SELECT FROM memberships AS m JOIN users AS u ON u.id = m.user_id
              WHERE m.tenant_id = :list_tenant AND u.subject = :sub AND m.role IN ('Owner', 'Admin'))
ORDER BY i.created_at DESC, i.id DESC
LIMIT 51;
