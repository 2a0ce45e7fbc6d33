/* The households kept on the phone, searchable, on the collector's list page (/collect/) while
 * offline: the server's list there is only as fresh as the page the cache holds. Each entry
 * opens the household's form (an edit page never opened online comes from sw.js's stand-in).
 */
import { openUrl } from "./status.js";

function matches(h, q) {
  if (!q) return true;
  const members = (h.data && h.data.members) || [];
  const texts = [h.card_no, h.head_name, (h.data && h.data.household && h.data.household.door_no) || ""];
  for (const m of members) texts.push(m.name || "", String(m.id_number || "").slice(-4));
  return texts.some((t) => String(t || "").toLowerCase().includes(q));
}

export async function initList({ main, store, T }) {
  const section = document.createElement("section");
  section.className = "card";
  section.setAttribute("data-testid", "offline-list");
  const title = document.createElement("h2");
  title.textContent = T.on_phone;
  const label = document.createElement("label");
  label.htmlFor = "offline-q";
  label.textContent = T.search;
  const input = document.createElement("input");
  input.id = "offline-q";
  input.type = "search";
  input.autocomplete = "off";
  input.placeholder = T.search_help;
  input.setAttribute("data-testid", "offline-search");
  const list = document.createElement("ul");
  list.className = "list households";
  list.setAttribute("data-testid", "offline-households");
  section.append(title, label, input, list);
  main.prepend(section);

  async function render() {
    const [households, drafts, outbox] = await Promise.all([
      store.all("households"), store.all("drafts"), store.all("outbox")]);
    const draftIds = new Set(drafts.map((d) => d.household_id));
    const sending = new Set(outbox.map((i) => i.household_id));
    // The server's households, then new ones typed on this phone and not sent yet (a draft, or
    // signed and waiting), once each.
    const rows = new Map(households.map((h) => [h.id, { ...h, is_new: false }]));
    for (const d of [...drafts, ...outbox]) {
      if (!d.is_new || rows.has(d.household_id)) continue;
      rows.set(d.household_id, { id: d.household_id, unit_id: d.unit_id, card_no: "", head_name: d.head_name,
                                 data: d.data, is_new: true });
    }
    const q = input.value.trim().toLowerCase();
    const found = [...rows.values()].filter((h) => matches(h, q))
      .sort((a, b) => String(a.card_no).localeCompare(String(b.card_no)));
    list.replaceChildren(...found.map((h) => {
      const li = document.createElement("li");
      li.setAttribute("data-testid", `offline-household-${h.card_no || h.id}`);
      const a = document.createElement("a");
      a.className = "row-link";
      a.href = openUrl({ household_id: h.id, unit_id: h.unit_id, is_new: h.is_new });
      const no = document.createElement("span");
      no.className = "card-no";
      no.textContent = h.card_no || "—";
      const name = document.createElement("strong");
      name.textContent = h.head_name || T.no_head;
      a.append(no, name);
      li.append(a);
      for (const [flag, text] of [[draftIds.has(h.id), T.draft], [sending.has(h.id), T.in_outbox]]) {
        if (!flag) continue;
        const badge = document.createElement("span");
        badge.className = "badge warn";
        badge.textContent = text;
        li.append(" ", badge);
      }
      return li;
    }));
    if (!found.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = T.none_found;
      list.append(li);
    }
  }
  input.addEventListener("input", render);
  const toggle = () => { section.hidden = navigator.onLine; if (!section.hidden) render(); };
  addEventListener("online", toggle);
  addEventListener("offline", toggle);
  toggle();
  return render;
}
