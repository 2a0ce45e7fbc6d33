/* The offline app's entry, loaded as a module on every collector page (offline/_status.html).
 *
 * It registers the service worker (/sw.js, scope "/"), opens the user's IndexedDB, shows the
 * status bar, and syncs: the outbox is sent and the households fetched on every page load,
 * when the network comes back ("online"), when a failed send is due again (backoff, at most
 * a minute apart while something waits), and on "Sync now". After a sync it has the service
 * worker cache the pages needed offline (the home page, the list, a new-household form per
 * unit and the chooser of the unit, and the form definition with its code tables,
 * GET /api/v1/form). Offline, static/pwa/links.js greys the links that need the network. On the
 * form page it starts static/pwa/form.js, on the list page static/pwa/households.js. Tabs
 * tell each other about changes (BroadcastChannel).
 */
import { open } from "./store.js";
import { LoggedOut, pullAssignments, sendOutbox } from "./sync.js";
import { StatusBar } from "./status.js";
import { guardLinks } from "./links.js";

const PAGES_CACHE = "doorstep-pages";  // as in sw.js
const RETRY_MS = 60 * 1000;
const WARM_TIMEOUT_MS = 20 * 1000;

/** Ask the service worker to cache the pages needed offline (the worker fetches them, so the
 *  page itself makes no extra requests); resolves when it is done, or after WARM_TIMEOUT_MS. */
async function warmPages(store) {
  const registration = navigator.serviceWorker ? await navigator.serviceWorker.getRegistration("/") : null;
  const worker = registration && registration.active;
  if (!worker) return;
  const units = await store.getMeta("units", []);
  const formVersion = await store.getMeta("form_version");
  const refresh = formVersion !== (await store.getMeta("warm_form_version"));
  const urls = ["/", "/collect/", "/api/v1/form", ...units.map((u) => `/collect/households/new?unit_id=${u.id}`)];
  // "+ New household" opens the chooser when there is a choice (app/web/collect.py, _only_unit);
  // else the one form, and the chooser would only redirect there.
  const villages = units.filter((u) => u.level === "village");
  if ((villages.length ? villages : units).length > 1) urls.push("/collect/households/new");
  const answer = await new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (e) => resolve(e.data);
    worker.postMessage({ type: "warm", urls, refresh }, [channel.port2]);
    setTimeout(() => resolve({ ok: false }), WARM_TIMEOUT_MS);
  });
  if (answer.ok) await store.setMeta("warm_form_version", formVersion);
}

async function main(bar) {
  const T = JSON.parse(document.getElementById("offline-i18n").textContent);
  guardLinks(T);
  const userId = bar.dataset.user;
  const store = await open(userId);
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(`doorstep-${userId}`) : null;
  let status = null;
  let running = null;
  let queued = null;  // a sync asked for while one ran: {force}
  let retry = null;
  let closing = false;  // logging out: the phone's data is being cleared

  /** The next try of what waits (sync.js's backoff), or a minute while offline or stuck. */
  async function scheduleRetry() {
    clearTimeout(retry);
    const waiting = (await store.all("outbox")).filter((i) => i.status === "waiting");
    if (!waiting.length) return;
    const due = Math.min(...waiting.map((i) => i.next_try || 0)) - Date.now();
    retry = setTimeout(() => sync(), Math.min(RETRY_MS, Math.max(1000, due)));
  }

  function sync({ force = false } = {}) {
    if (closing) return Promise.resolve();
    if (running) {
      // Asked while a sync runs (the network just came back during one that failed): run again after.
      queued = { force: force || Boolean(queued && queued.force) };
      return running;
    }
    const work = async () => {
      status.busy(true);
      try {
        if (navigator.onLine) {
          await sendOutbox(store, userId, { force });
          await pullAssignments(store);
          await store.setMeta("last_sync", new Date().toISOString());
          status.loggedOut(false);
          await warmPages(store);
        }
      } catch (e) {
        if (e instanceof LoggedOut) status.loggedOut(true);
      } finally {
        status.busy(false);
        await status.update();
        await scheduleRetry();
        if (channel) channel.postMessage("changed");
      }
    };
    // One sync at a time across the tabs (the server would store a submission once anyway).
    running = (navigator.locks ? navigator.locks.request("doorstep-sync", work) : work())
      .finally(() => {
        running = null;
        if (queued) {
          const again = queued;
          queued = null;
          sync(again);
        }
      });
    return running;
  }

  status = new StatusBar(bar, T, store, () => sync({ force: true }));
  await status.update();
  if (channel) channel.onmessage = () => status.update();

  const form = document.getElementById("household-form");
  const main = document.querySelector("main");
  // The form was saved online ("Save draft") and this page is not the form again: the save
  // went through, the server has it, the draft on the phone is done with.
  const posted = sessionStorage.getItem("doorstep-posted");
  if (posted && !form) {
    sessionStorage.removeItem("doorstep-posted");
    await store.delete("drafts", posted);
  }
  // Logging out (issue 15): what is sent goes first, then the phone forgets the collector's
  // data: the cached pages (lists, forms with households in them), the households, the drafts
  // and the sync state, so that the next person on this phone never sees them, online or off.
  // The outbox stays, in this user's own database, and is sent at their next login: the phone
  // is shared, so logging out is never refused (the server may be out of reach, the collector
  // may have to hand the phone over), but what would be lost or left behind is said first.
  const logout = document.querySelector("form[action$='/logout']");
  if (logout) {
    let leaving = null;  // a second tap while the first is busy does nothing
    logout.addEventListener("submit", (e) => {
      if (logout.dataset.cleared !== undefined) return;
      e.preventDefault();
      if (leaving) return;
      // Something failed on the way: the pages still go, and the logout is never held up.
      leaving = leave().catch(() => ("caches" in window ? caches.delete(PAGES_CACHE) : null)
        .then(() => true, () => true));
      leaving.then((go) => {
        leaving = null;
        if (!go) return;
        logout.dataset.cleared = "";
        logout.requestSubmit();
      });
    });
  }

  async function leave() {
    if (running) await running.catch(() => {});
    if (navigator.onLine) await sendOutbox(store, userId, { force: true }).catch(() => {});
    const unsent = (await store.all("outbox")).length;
    const drafts = (await store.all("drafts")).length;
    const lines = [];
    if (unsent) lines.push(T.logout_unsent.replace("{n}", unsent));
    if (drafts) lines.push(T.logout_drafts.replace("{n}", drafts));
    if (lines.length && !window.confirm([...lines, T.logout_anyway].join("\n"))) return false;
    closing = true;  // no sync refills the phone between here and the logout
    clearTimeout(retry);
    await store.transaction(["households", "drafts", "meta"], "readwrite", (s) => {
      s.households.clear();
      s.drafts.clear();
      s.meta.clear();
    });
    if ("caches" in window) await caches.delete(PAGES_CACHE);
    if (channel) channel.postMessage("changed");
    return true;
  }
  let refreshList = null;
  if (form && window.DoorstepCollect && window.DoorstepCollect.form) {
    const { initForm } = await import("./form.js");
    await initForm({ form, store, T });
  } else if (location.pathname === "/collect/" && main) {
    const { initList } = await import("./households.js");
    refreshList = await initList({ main, store, T });
  }

  if ("serviceWorker" in navigator) {
    // Offline the worker's script cannot be fetched, but the registered worker still serves.
    const registered = await navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => null);
    if (registered || navigator.serviceWorker.controller) await navigator.serviceWorker.ready;
  }
  addEventListener("online", () => sync({ force: true }));
  await sync({ force: true });
  if (refreshList) await refreshList();
  bar.dataset.ready = "1";
}

const bar = document.getElementById("sync-bar");
if (bar) main(bar);
