// Compiled with --noEmit under the package's strict flags (tsconfig.json here): what the types allow and what they refuse.
import type { IncomingMessage } from "node:http";
import {
  call, createInvitationsClient, importResults, nextCursor, startImport, verifyWebhook, TenantInvitationsError,
  type TenantModel, type UserInvitationModel, type WebhookEvent,
} from "../../src/index.js";

const client = createInvitationsClient({ baseUrl: "http://127.0.0.1:5080", token: async () => "a token" });

export async function usage(tenantId: number): Promise<void> {
  // An invitation needs only an email.
  const created: UserInvitationModel[] = await call(client.POST("/tenant/{tenantId}/admin/user/invitation", {
    params: { path: { tenantId } },
    body: { email: "someone@example.com" },
  }));
  const first: UserInvitationModel | undefined = created[0];
  // The value is typed non-null: its fields are read without a check.
  const tenant: TenantModel = await call(client.GET("/tenant/{tenantId}", { params: { path: { tenantId } } }));
  const name: string = tenant.name;

  // @ts-expect-error a tenant's name is a string, never null
  await client.POST("/tenant", { body: { name: null, ownerEmail: "owner@example.com" } });

  // @ts-expect-error ownerEmail is required
  await client.POST("/tenant", { body: { name: "Acme" } });

  // @ts-expect-error an invitation without an email is refused
  await client.POST("/tenant/{tenantId}/admin/user/invitation", { params: { path: { tenantId } }, body: { role: "Member" } });

  // @ts-expect-error resend needs the invitation's id in the query
  await client.PUT("/tenant/{tenantId}/admin/user/invitation/resend", { params: { path: { tenantId } } });

  // @ts-expect-error roles are Owner, Admin or Member
  await client.POST("/tenant/{tenantId}/admin/user/invitation", { params: { path: { tenantId } }, body: { email: "a@example.com", role: "Root" } });

  const page = await client.GET("/tenant/{tenantId}/admin/user/invitation", { params: { path: { tenantId }, query: { limit: 10 } } });
  const after: string | undefined = nextCursor(page.response);

  try {
    await call(client.PUT("/tenant/{tenantId}/admin/user/invitation/resend", { params: { path: { tenantId }, query: { id: first?.id ?? 0 } } }));
  } catch (error) {
    if (error instanceof TenantInvitationsError && error.code === "RateLimited") {
      const seconds: number | undefined = error.retryAfter;
      void seconds;
    }
  }

  const event: WebhookEvent = verifyWebhook("{}", { "webhook-id": "1" }, "whsec_AAAA");
  if (event.type === "invitation.created") {
    // Narrowed by type: the invitation's fields.
    const email: string = event.data.email;
    void email;
  }
  if (event.type === "member.role_changed") {
    const previous: "Owner" | "Admin" | "Member" = event.data.previousRole;
    void previous;
  }
  void name; void after;
}

// The README's examples: bulk with an Idempotency-Key, and verifying what Node's http server received.
export async function readme(tenantId: number, request: IncomingMessage, body: string): Promise<void> {
  const rows = await call(client.POST("/tenant/{tenantId}/admin/user/invitation/bulk", {
    params: { path: { tenantId }, header: { "Idempotency-Key": crypto.randomUUID() } },
    body: { invitations: [{ email: "a@example.com" }, { email: "b@example.com", role: "Admin" }] },
  }));
  const status: "Created" | "AlreadyInvited" | "AlreadyMember" | "Invalid" | "Forbidden" | "RateLimited" | undefined = rows[0]?.status;
  const started = await call(startImport(client, tenantId, "email\nx@example.com\n", crypto.randomUUID()));
  const csv: string = await importResults(client, tenantId, started.id);
  void csv;
  const event = verifyWebhook(body, request.headers, "whsec_AAAA");
  if (event.type === "invitation.accepted") {
    const joined: number = event.data.tenantId;
    void joined;
  }
  void status;
}
