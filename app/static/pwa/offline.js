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

  /** The next try of what waits (sync.js's backoff), or a minute while offline or stuck. */
  async function scheduleRetry() {
    clearTimeout(retry);
    const waiting = (await store.all("outbox")).filter((i) => i.status === "waiting");
    if (!waiting.length) return;
    const due = Math.min(...waiting.map((i) => i.next_try || 0)) - Date.now();
    retry = setTimeout(() => sync(), Math.min(RETRY_MS, Math.max(1000, due)));
  }

  function sync({ force = false } = {}) {
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
  // Logging out: the cached pages (lists, forms with households in them) go, so that the next
  // person on this phone never sees them offline. Drafts and the outbox stay in this user's
  // own database, to be sent at their next login.
  const logout = document.querySelector("form[action$='/logout']");
  if (logout) {
    logout.addEventListener("submit", (e) => {
      if (logout.dataset.cleared !== undefined || !("caches" in window)) return;
      e.preventDefault();
      caches.delete(PAGES_CACHE).finally(() => { logout.dataset.cleared = ""; logout.requestSubmit(); });
    });
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
