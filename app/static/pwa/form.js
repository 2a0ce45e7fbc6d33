/* The household form (templates/collect/form.html) with the phone's memory behind it.
 *
 * - Everything typed is saved to IndexedDB as it is typed (drafts, keyed by household id),
 *   so a reload, a closed browser or a restarted phone loses nothing; the form is filled back
 *   from the draft when it opens again.
 * - A new household gets its id here (kept in the address as #draft=<id>, so a reload finds
 *   its draft); an existing one is the id in the path.
 * - Offline, an edit page never opened online is the cached new-household form (sw.js) filled
 *   from the household kept on the phone.
 * - "Sign and submit" checks the form (static/pwa/checks.js), takes the pad's strokes and
 *   puts the submission into the outbox; static/pwa/sync.js sends it.
 * - "Save draft" without a network keeps the draft on the phone instead of failing.
 * - A submission refused by the server (422) shows its messages next to the fields.
 */
import { problems } from "./checks.js";
import { headName } from "./sync.js";

const EDIT_PATH = /^\/collect\/households\/([0-9a-f-]{36})(?:\/edit)?$/;
const SAVE_DELAY_MS = 300;
const MIN_INK = 150;  // as static/signature.js and the server: a dot or a tick is no signature

function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function fmt(text, values) {
  return text.replace(/\{(\w+)\}/g, (all, key) => (key in values ? values[key] : all));
}

function ink(strokes) {
  let total = 0;
  for (const s of strokes) {
    for (let i = 1; i < s.length; i++) total += Math.hypot(s[i][0] - s[i - 1][0], s[i][1] - s[i - 1][1]);
  }
  return total;
}

export async function initForm({ form, store, T }) {
  const C = window.DoorstepCollect;
  const definition = JSON.parse(document.getElementById("form-definition").textContent);
  const collectT = JSON.parse(document.getElementById("collect-i18n").textContent);
  const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
  const fields = { household: [], members: [] };
  const byName = { household: {}, members: {} };
  for (const s of definition.sections) {
    for (const f of s.fields) { fields[s.data_key].push(f.name); byName[s.data_key][f.name] = f; }
  }

  // -------------------------------------------------- which household, from which version
  const params = new URLSearchParams(location.search);
  const editMatch = EDIT_PATH.exec(location.pathname);
  const isNew = !editMatch;
  let householdId = editMatch ? editMatch[1] : new URLSearchParams(location.hash.slice(1)).get("draft");
  const posted = sessionStorage.getItem("doorstep-posted");
  sessionStorage.removeItem("doorstep-posted");
  if (isNew && !householdId && posted && form.querySelector("[data-testid=form-message]")) {
    householdId = posted;  // the server refused an online save: this is that draft again
  }
  if (!householdId) householdId = uuid4();
  if (isNew) history.replaceState(history.state, "", `${location.pathname}${location.search}#draft=${householdId}`);

  const [known, draft, outbox] = await Promise.all([
    store.get("households", householdId), store.get("drafts", householdId), store.all("outbox")]);
  const mine = outbox.filter((i) => i.household_id === householdId)
    .sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
  const waiting = mine.filter((i) => i.status === "waiting");
  const lastSigned = mine[mine.length - 1];
  const baseInput = form.elements.namedItem("base_number");
  const pageBase = baseInput ? Number(baseInput.value) : null;
  // The page is a stand-in when sw.js served another form for this household. (The form's
  // buttons are named "action", which hides form.action: read the attribute.)
  const standIn = !isNew && !form.getAttribute("action").endsWith(`/collect/households/${householdId}/edit`);
  const unitId = isNew ? Number(params.get("unit_id")) : (known ? known.unit_id : (draft ? draft.unit_id : null));

  // The phone's copy is newer than the page: a stand-in, a new household's form opened again
  // after it was sent (#draft=<id>), or a cached edit page older than the last sync.
  const phoneNewer = Boolean(known) && (isNew || standIn || pageBase === null || known.version > pageBase);
  const created = isNew && !known;  // not on the server yet (as far as this phone knows)

  function baseVersion() {
    if (waiting.length) return Math.max(...waiting.map((i) => i.base_version)) + 1;
    if (draft) return draft.base_version;
    if (created) return 0;
    return phoneNewer ? known.version : pageBase ?? 0;
  }
  const base = baseVersion();

  // -------------------------------------------------- form <-> data
  const cards = () => C.form.cards();

  function read(prefix, names) {
    const record = {};
    for (const name of names) {
      const el = form.elements.namedItem(prefix + name);
      if (el) record[name] = el.value;
    }
    return record;
  }

  /** What is typed, as typed (strings), every card included: the draft. */
  function serialise() {
    return {
      household: read("household-", fields.household),
      members: cards().map((card) => read(`members-${card.dataset.index}-`, ["person_id", ...fields.members])),
    };
  }

  function setValue(el, value) {
    const text = value === null || value === undefined ? "" : String(value);
    if (el.tagName === "SELECT" && text && ![...el.options].some((o) => o.value === text)) {
      el.add(new Option(text, text));
    }
    el.value = text;
  }

  function fill(data) {
    const h = data.household || {};
    for (const name of fields.household) {
      const el = form.elements.namedItem(`household-${name}`);
      if (el) setValue(el, h[name]);
    }
    const members = data.members || [];
    while (cards().length < members.length) C.form.addMember();
    if (members.length) cards().slice(members.length).forEach((card) => card.remove());
    members.forEach((m, i) => {
      const prefix = `members-${cards()[i].dataset.index}-`;
      for (const name of ["person_id", ...fields.members]) {
        const el = form.elements.namedItem(prefix + name);
        if (el) setValue(el, m[name]);
      }
    });
    C.form.refresh();
  }

  /** The submission's data: values converted as stored, empty fields left out, cards nobody
   *  filled dropped (a member already saved is never dropped). Also the cards' indices. */
  function submissionData() {
    const knownIds = new Set(((known && known.data && known.data.members) || []).map((m) => m.person_id));
    const convert = (f, raw) => C.typed(f, raw);
    const household = {};
    const raw = serialise();
    for (const [name, value] of Object.entries(raw.household)) {
      const v = convert(byName.household[name], value);
      if (v !== null) household[name] = v;
    }
    const members = [], indices = [];
    cards().forEach((card, i) => {
      const m = raw.members[i];
      const out = { person_id: m.person_id };
      let typed = false;
      for (const name of fields.members) {
        const f = byName.members[name];
        const v = convert(f, m[name]);
        if (v === null) continue;
        out[name] = v;
        if (f.default === undefined || f.default === null || String(f.default) !== String(v)) typed = true;
      }
      if (typed || knownIds.has(m.person_id)) { members.push(out); indices.push(card.dataset.index); }
    });
    return { data: { household, members }, indices };
  }

  // -------------------------------------------------- messages next to fields
  function clearMessages() {
    form.querySelectorAll("[data-offline-message]").forEach((p) => p.remove());
  }
  function showMessage(key, message) {
    const w = document.getElementById(`f-${key}`) || document.getElementById(key);
    if (!w) return false;
    const p = document.createElement("p");
    p.className = "field-error";
    p.setAttribute("data-server", "");
    p.setAttribute("data-offline-message", "");
    p.setAttribute("data-testid", `offline-issue-${key}`);
    p.textContent = message;
    w.appendChild(p);
    if (w.classList.contains("field")) w.classList.add("has-error");
    return true;
  }
  /** The server's errors: paths like "members[2].id_number" name the member by its place. */
  function showServerErrors(errors) {
    const list = cards();
    for (const e of errors || []) {
      const m = /^members\[(\d+)\](?:\.(\w+))?$/.exec(e.path || "");
      let key = "";
      if (m && list[+m[1]]) key = `members-${list[+m[1]].dataset.index}${m[2] ? `-${m[2]}` : ""}`;
      else if ((e.path || "").startsWith("household.")) key = `household-${e.path.slice(10)}`;
      if (!key || !showMessage(key, e.message)) note(e.message, true);
    }
  }

  const notice = document.createElement("p");
  notice.className = "flash";
  notice.setAttribute("role", "status");
  notice.setAttribute("data-testid", "offline-notice");
  notice.hidden = true;
  form.parentNode.insertBefore(notice, form);
  function note(text, isError) {
    notice.textContent = text;
    notice.className = `flash${isError ? " flash-error" : ""}`;
    notice.hidden = !text;
  }

  // -------------------------------------------------- open: the newest of draft, outbox, phone copy
  let timer = null;  // the pending draft save
  let saving = Promise.resolve();  // the last draft save
  // A stand-in, or a sent new household opened again: its form edits that household.
  if (known && (standIn || isNew)) {
    const title = document.querySelector("h1");
    if (title) title.firstChild.textContent = `${fmt(T.edit_title, { card: known.card_no })} `;
    form.setAttribute("action", `/collect/households/${householdId}/edit`);
    if (!baseInput) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "base_number";
      input.value = String(known.version);
      form.prepend(input);
    }
  }
  const opening = [];  // what the collector is told on opening: [text, isError]
  if (draft) {
    fill(draft.data);
    opening.push([T.restored, false]);
  } else if (lastSigned) fill(lastSigned.data);
  else if (phoneNewer) fill(known.data);
  if (waiting.length) opening.push([T.waiting_send, false]);
  if (lastSigned && lastSigned.status === "attention") {
    opening.push([lastSigned.reason === "conflict" ? T.conflict
      : fmt(T.invalid, { message: lastSigned.message }), true]);
    showServerErrors(lastSigned.errors);
    C.form.refresh();
  }
  if (opening.length) {
    note(opening.map(([text]) => text).join(" "), opening.some(([, isError]) => isError));
  }
  if (draft) {
    // The typing of another day may be stale: the collector can drop it and start again.
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link";
    discard.setAttribute("data-testid", "discard-draft");
    discard.textContent = T.discard;
    discard.addEventListener("click", async () => {
      clearTimeout(timer);
      timer = null;
      await saving;
      await store.delete("drafts", householdId);
      form.dataset.draftKept = "";
      location.replace(`${location.pathname}${location.search}`);
    });
    notice.append(" ", discard);
  }

  // -------------------------------------------------- drafts, saved as typed
  function saveDraft() {
    clearTimeout(timer);
    timer = null;
    const record = { household_id: householdId, unit_id: unitId, base_version: base, is_new: created,
                     card_no: known ? known.card_no : "", data: serialise(), updated_at: new Date().toISOString() };
    record.head_name = headName(record.data);
    saving = saving.then(() => store.put("drafts", record)).then(() => {
      if (timer === null) form.dataset.draftKept = "";
    });
    return saving;
  }
  function changed() {
    delete form.dataset.draftKept;
    clearTimeout(timer);
    timer = setTimeout(saveDraft, SAVE_DELAY_MS);
  }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("click", (e) => {
    if (e.target.closest("[data-add-member], [data-remove-card]")) changed();
  });
  const flush = () => { if (timer !== null) saveDraft(); };
  addEventListener("pagehide", flush);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flush(); });
  if (draft) form.dataset.draftKept = "";
  form.dataset.offlineReady = "";  // filled from the phone: typing from here on is kept

  // -------------------------------------------------- "Save draft" without a network
  form.addEventListener("submit", (e) => {
    const action = e.submitter ? e.submitter.value : "save";
    if (!navigator.onLine) {
      e.preventDefault();
      saveDraft().then(() => note(T.kept, false));
      return;
    }
    if (action === "save") sessionStorage.setItem("doorstep-posted", householdId);
  });

  // -------------------------------------------------- sign and submit into the outbox
  const box = form.querySelector("[data-offline-submit]");
  const pad = box.querySelector("[data-signature-pad]");
  box.hidden = false;
  // The pad measures itself when its step is shown (a ResizeObserver in static/signature.js).
  box.querySelector("[data-sign-submit]").addEventListener("click", async () => {
    clearMessages();
    const { data, indices } = submissionData();
    const found = problems(definition, data, indices, T, collectT, lang);
    const strokesText = pad.querySelector("input[name=strokes]").value;
    const strokes = strokesText ? JSON.parse(strokesText) : [];
    if (found.length) {
      found.forEach((p) => showMessage(p.key, p.message));
      C.form.refresh();
      note(T.fix_first, true);
      return;
    }
    if (ink(strokes) < MIN_INK) {
      const error = pad.querySelector("[data-signature-error]");
      error.textContent = T.sign_first;
      error.hidden = false;
      pad.scrollIntoView({ block: "center" });
      return;
    }
    clearTimeout(timer);
    timer = null;
    const item = { submission_id: uuid4(), household_id: householdId, unit_id: unitId, base_version: base,
                   data, signature: strokes, status: "waiting", card_no: known ? known.card_no : "",
                   head_name: headName(data), is_new: created, created_at: new Date().toISOString(), tries: 0 };
    await saving;
    await store.transaction(["outbox", "drafts"], "readwrite", (s) => {
      // The older refused submissions of this household are replaced by this one.
      for (const old of mine) if (old.status === "attention") s.outbox.delete(old.submission_id);
      s.outbox.put(item);
      s.drafts.delete(householdId);
    });
    form.dataset.draftKept = "";
    sessionStorage.setItem("doorstep-note", T.queued);
    location.assign("/collect/");  // the list page sends the outbox as it opens (offline.js)
  });
}
