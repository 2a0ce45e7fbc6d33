/* The status bar on every collector page (templates/offline/_status.html): online or offline,
 * how many submissions wait in the outbox, the last sync, and the ones that need the
 * collector's attention (refused as invalid, or a conflict) with the reason, each with a
 * link to open the household (a conflict, kept on the server for the leader, can be
 * dismissed). "Sync now" sends at once (offline it is greyed: it needs the network).
 */

function fmt(text, values) {
  return text.replace(/\{(\w+)\}/g, (all, key) => (key in values ? values[key] : all));
}

/** "14:05" today, "11-22 14:05" on another day: the bar stays one line on a phone. */
function clock(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return d.toDateString() === new Date().toDateString() ? time : `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function openUrl(item) {
  const unit = item.unit_id ? `?unit_id=${item.unit_id}` : "";
  return item.is_new ? `/collect/households/new${unit}#draft=${item.household_id}`
    : `/collect/households/${item.household_id}/edit${unit}`;
}

export function reasonText(item, T) {
  if (item.reason === "conflict") return T.conflict;
  if (item.reason === "invalid") return fmt(T.invalid, { message: item.message });
  if (item.reason === "reused") return T.reused;
  return fmt(T.refused, { message: item.message || String(item.http || "") });
}

export class StatusBar {
  constructor(root, T, store, syncNow) {
    this.root = root;
    this.T = T;
    this.store = store;
    this.loggedOutNow = false;
    const q = (id) => root.querySelector(`[data-testid=${id}]`);
    this.net = q("status-online");
    this.waiting = q("status-waiting");
    this.last = q("status-last-sync");
    this.attention = q("status-attention");
    this.list = q("attention-list");
    this.message = q("status-message");
    this.button = q("sync-now");
    this.busyNow = false;
    this.showButton();
    this.button.addEventListener("click", () => syncNow());
    this.attention.addEventListener("click", () => { this.list.hidden = !this.list.hidden; });
    this.list.addEventListener("click", async (e) => {
      const b = e.target.closest("[data-dismiss]");
      if (!b) return;
      await store.delete("outbox", b.dataset.dismiss);
      this.update();
    });
    addEventListener("online", () => this.update());
    addEventListener("offline", () => this.update());
    const note = sessionStorage.getItem("doorstep-note");
    sessionStorage.removeItem("doorstep-note");
    if (note) this.say(note);
    root.hidden = false;
  }

  say(text) {
    this.message.textContent = text || "";
    this.message.hidden = !text;
  }

  busy(on) {
    this.busyNow = on;
    this.showButton();
  }

  /** "Sync now": greyed while a sync runs, and offline with the word why (as static/pwa/links.js
   *  greys the links that need the network). */
  showButton() {
    const offline = !navigator.onLine;
    this.button.disabled = this.busyNow || offline;
    this.button.textContent = this.busyNow ? this.T.syncing : this.T.sync_now;
    this.button.classList.toggle("needs-network", offline);
    if (offline) {
      this.button.setAttribute("aria-disabled", "true");
      const why = document.createElement("span");
      why.className = "needs-network-why";
      why.setAttribute("data-testid", "needs-network");
      why.textContent = this.T.needs_network;
      this.button.append(why);
    } else {
      this.button.removeAttribute("aria-disabled");
    }
  }

  loggedOut(on) {
    this.loggedOutNow = on;
    if (on) this.say(this.T.login);
  }

  async update() {
    const T = this.T;
    const [outbox, lastSync] = await Promise.all([this.store.all("outbox"), this.store.getMeta("last_sync")]);
    const online = navigator.onLine;
    this.root.classList.toggle("is-offline", !online);
    this.root.dataset.online = online ? "1" : "0";
    this.net.textContent = online ? T.online : T.offline;
    this.showButton();
    const waiting = outbox.filter((i) => i.status === "waiting");
    const attention = outbox.filter((i) => i.status === "attention");
    this.root.dataset.waiting = String(waiting.length);
    this.root.dataset.attention = String(attention.length);
    this.waiting.textContent = waiting.length ? fmt(T.waiting, { n: waiting.length }) : T.nothing_waiting;
    this.waiting.classList.toggle("has-waiting", waiting.length > 0);
    this.last.textContent = lastSync ? fmt(T.last_sync, { time: clock(lastSync) }) : T.never_synced;
    this.attention.hidden = !attention.length;
    this.attention.textContent = fmt(T.attention, { n: attention.length });
    this.list.replaceChildren(...attention.map((item) => {
      const li = document.createElement("li");
      li.setAttribute("data-testid", "attention-item");
      li.dataset.household = item.household_id;
      li.dataset.reason = item.reason;
      const title = document.createElement("strong");
      title.textContent = `${item.card_no || ""} ${item.head_name || T.no_head}`.trim();
      const why = document.createElement("span");
      why.className = "small";
      why.setAttribute("data-testid", "attention-reason");
      why.textContent = ` ${reasonText(item, T)} `;
      const open = document.createElement("a");
      open.href = openUrl(item);
      open.textContent = T.open;
      const dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "link";
      dismiss.dataset.dismiss = item.submission_id;
      dismiss.textContent = T.dismiss;
      // Only a conflict may be dismissed: the server keeps it for the village leader. A refused
      // submission stays until it is corrected and signed again (it replaces this one).
      li.append(title, why, open);
      if (item.reason === "conflict") li.append(dismiss);
      return li;
    }));
    if (!attention.length) this.list.hidden = true;
  }
}
