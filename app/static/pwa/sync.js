/* Sending the outbox and fetching the collector's households (the sync API, docs/SYNC-API.md).
 *
 * An outbox item: {submission_id, household_id, unit_id, base_version, data, signature,
 * status: "waiting" | "attention", reason, message, errors, card_no, created_at, tries,
 * next_try}. Items are sent oldest first, each with the submission_id made when it was
 * signed, so sending one twice (a lost answer, two tabs) stores it once on the server.
 * - 201/200: stored; the item and the household's draft are dropped, and the household's
 *   local copy becomes the new version (the base of the next edit).
 * - 202 conflict, 409, 422, 403/404: kept, "needs attention" with the server's message.
 * - no network, 5xx: stays waiting, tried again later (backoff up to five minutes).
 * - 401, E1004 / the session has ended: everything stays waiting; the bar asks for a login.
 */

const API = "/api/v1";
const MAX_BACKOFF_MS = 5 * 60 * 1000;

export class LoggedOut extends Error {}

/** A fresh CSRF token from the server (a page from the cache may carry an older one). */
async function sessionToken(userId) {
  const response = await fetch("/offline/session", { credentials: "same-origin", redirect: "manual",
                                                      cache: "no-store" });
  if (response.type === "opaqueredirect" || response.status === 401) throw new LoggedOut();
  if (!response.ok) throw new Error(`session: HTTP ${response.status}`);
  const body = await response.json();
  if (String(body.user_id) !== String(userId)) throw new LoggedOut();
  return body.csrf_token;
}

function byAge(a, b) { return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0; }

function backoff(item) {
  const tries = (item.tries || 0) + 1;
  return { ...item, tries, next_try: Date.now() + Math.min(MAX_BACKOFF_MS, 5000 * 2 ** (tries - 1)) };
}

/** Send what waits and is due (or everything, `force`). Returns {sent, attention, failed}. */
export async function sendOutbox(store, userId, { force = false } = {}) {
  const waiting = (await store.all("outbox")).filter((i) => i.status === "waiting").sort(byAge);
  const due = waiting.filter((i) => force || !i.next_try || i.next_try <= Date.now());
  const result = { sent: 0, attention: 0, failed: 0 };
  if (!due.length) return result;
  let token;
  try {
    token = await sessionToken(userId);
  } catch (e) {
    if (e instanceof LoggedOut) throw e;
    // No answer (a weak signal that says "online"): everything due waits its backoff.
    await store.transaction("outbox", "readwrite", (s) => { for (const item of due) s.outbox.put(backoff(item)); });
    result.failed = due.length;
    return result;
  }
  for (const item of due) {
    let response;
    let body = {};
    try {
      response = await fetch(`${API}/submissions`, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
        body: JSON.stringify({ submission_id: item.submission_id, household_id: item.household_id,
                               unit_id: item.unit_id, base_version: item.base_version, data: item.data,
                               signature: item.signature }),
      });
      body = await response.json().catch(() => ({}));
    } catch (e) {  // no network: this one and the rest wait
      await store.put("outbox", backoff(item));
      result.failed += 1;
      break;
    }
    // 401, or a token the session does not accept (E1004): the session is the problem, not the item.
    if (response.status === 401 || body.code === "E1004") throw new LoggedOut();
    if (response.status >= 500) {
      await store.put("outbox", backoff(item));
      result.failed += 1;
      continue;
    }
    if (response.status === 200 || response.status === 201) {
      await store.transaction(["outbox", "drafts", "households"], "readwrite", async (s) => {
        s.outbox.delete(item.submission_id);
        const draft = await idb(s.drafts.get(item.household_id));
        // A draft typed after this submission was signed stays; the signed one goes.
        if (draft && draft.updated_at <= item.created_at) s.drafts.delete(item.household_id);
        const known = await idb(s.households.get(item.household_id));
        s.households.put({ ...(known || {}), id: item.household_id, unit_id: item.unit_id,
                           card_no: body.card_no || (known && known.card_no) || item.card_no || "",
                           version: body.version, state: body.state || "submitted", data: item.data,
                           head_name: headName(item.data), member_count: (item.data.members || []).length });
      });
      result.sent += 1;
    } else {
      await store.put("outbox", { ...item, status: "attention", http: response.status,
                                  reason: body.status === "conflict" ? "conflict" : reasonOf(response.status, body),
                                  message: body.message || "", errors: body.errors || [],
                                  conflict_id: body.conflict_id || null });
      result.attention += 1;
    }
  }
  return result;
}

function reasonOf(status, body) {
  if (status === 422) return "invalid";
  if (status === 409 && body.code === "E2002") return "reused";
  return "refused";
}

function idb(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export function headName(data) {
  const members = (data && data.members) || [];
  const head = members.find((m) => m.relationship === "02") || members[0];
  return head ? head.name || "" : "";
}

/** Fetch what changed since the last sync (the cursor) into the households store. */
export async function pullAssignments(store) {
  const cursor = await store.getMeta("cursor");
  const url = `${API}/assignments${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`;
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" },
                                      cache: "no-store" });
  if (response.status === 401) throw new LoggedOut();
  if (!response.ok) throw new Error(`assignments: HTTP ${response.status}`);
  const body = await response.json();
  await store.transaction(["households", "meta"], "readwrite", (s) => {
    for (const h of body.households || []) s.households.put(h);
    for (const id of body.removed || []) s.households.delete(id);
    s.meta.put({ key: "cursor", value: body.cursor });
    s.meta.put({ key: "units", value: body.units || [] });
    s.meta.put({ key: "form_version", value: body.form_version });
  });
  return body;
}
