// The calls a mail app makes, typed by the types generated from Mailroom's OpenAPI document:
// `uv run just client-ts` generates ../../build/client-ts/api.d.ts and type-checks this file against it.
import createClient from "openapi-fetch";
import type { components, paths } from "../../build/client-ts/api";

type Problem = components["schemas"]["Problem"];

function explain(problem: Problem): string {
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`).join("; ");
  return `${problem.status} ${problem.title}: ${problem.detail}${fields ? ` (${fields})` : ""}`;
}

export async function scenario(baseUrl: string, password: string): Promise<void> {
  const anonymous = createClient<paths>({ baseUrl });
  const login = await anonymous.POST("/api/auth/login", {
    body: { tenant: "acme", email: "alice@acme.test", password },
  });
  if (login.error) throw new Error(explain(login.error));
  const api = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${login.data.access_token}` },
  });

  const created = await api.POST("/api/accounts", {
    params: { query: { verify: true } },
    body: {
      name: "Work",
      email: "alice@example.test",
      imap: { host: "127.0.0.1", port: 143, security: "starttls", username: "alice", password: "secret" },
      smtp: { host: "127.0.0.1", port: 587, security: "starttls", username: "alice", password: "secret" },
    },
  });
  if (created.error) throw new Error(explain(created.error));
  const account_id = created.data.id;

  const queued = await api.POST("/api/sync/imap/{account_id}", { params: { path: { account_id } } });
  if (queued.error) throw new Error(explain(queued.error));
  const status = await api.GET("/api/sync/status/{account_id}", { params: { path: { account_id } } });
  if (status.data) console.log(status.data.state);

  const page = await api.GET("/api/accounts/{account_id}/messages", {
    params: { path: { account_id }, query: { limit: 20 } },
  });
  const first = page.data?.items[0];
  if (first) {
    const message = await api.GET("/api/messages/{message_id}", { params: { path: { message_id: first.id } } });
    if (message.data) console.log(message.data.subject, message.data.from.map((a) => a.address));
    await api.PATCH("/api/messages/{message_id}", { params: { path: { message_id: first.id } }, body: { seen: true } });
  }
  const found = await api.GET("/api/sync/search", { params: { query: { q: "invoice", account_id } } });
  console.log(found.data?.items.length, found.data?.next_cursor);

  const draft = await api.POST("/api/compose", {
    body: { account_id, to: [{ address: "bob@example.org", name: "Bob" }], subject: "Lunch?", text: "Noon?" },
  });
  if (draft.error) throw new Error(explain(draft.error));
  const sent = await api.POST("/api/compose/{draft_id}/send", {
    params: { path: { draft_id: draft.data.id }, header: { "Idempotency-Key": "lunch-1" } },
  });
  if (sent.data) console.log(sent.data.job_id);

  const missing = await api.GET("/api/accounts/{account_id}", {
    params: { path: { account_id: "00000000-0000-0000-0000-000000000000" } },
  });
  if (missing.error) console.log(explain(missing.error));
}
