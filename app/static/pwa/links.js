/* Offline, every link and button of a collector's page either works or says why it does not
 * (issue 14: "+ New household" showed the browser's "This site can't be reached").
 *
 * While navigator.onLine is false, each link is checked with the service worker ("answerable",
 * static/pwa/sw.js: the same rules as its answers to a navigation); a link the worker cannot
 * answer, and each button that sends a form to the server (log out, language, search), is
 * greyed, does nothing when tapped, and carries the word "needs the network". Back online,
 * all of them work again. Links added later (the phone's household list, the status bar) are
 * checked as they come. The household form is left alone: static/pwa/form.js keeps its saves
 * on the phone offline. <html data-links> says where the check is: "checking", "offline"
 * (done), "online".
 */

const MARK = "needs-network";
const ASK_TIMEOUT_MS = 5000;
const BUTTONS = "form:not(#household-form) button:not([type=button]):not([type=reset]), "
  + "form:not(#household-form) input[type=submit]";

/** For each URL, whether the worker answers it offline; null when no answer comes (an older
 *  worker that does not know the question: leave the links as they are). */
function answerable(urls) {
  const worker = navigator.serviceWorker && navigator.serviceWorker.controller;
  if (!worker) return Promise.resolve(urls.map(() => false));  // nothing answers offline
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (e) => resolve(e.data.answers);
    worker.postMessage({ type: "answerable", urls }, [channel.port2]);
    setTimeout(() => resolve(null), ASK_TIMEOUT_MS);
  });
}

/** A link within this page (#returned on the list): it only scrolls, it always works. */
function samePage(url) {
  return url.origin === location.origin && url.pathname === location.pathname
    && url.search === location.search && url.hash !== "";
}

export function guardLinks(T) {
  const root = document.documentElement;
  const reasons = new WeakMap();  // element -> its "needs the network" span

  function mark(el, off) {
    if (el.classList.contains(MARK) === off) return;
    el.classList.toggle(MARK, off);
    if (off) {
      el.setAttribute("aria-disabled", "true");
      const why = document.createElement("span");
      why.className = "needs-network-why";
      why.setAttribute("data-testid", "needs-network");
      why.textContent = T.needs_network;
      if (el.tagName === "INPUT") el.after(why);
      else el.append(why);
      reasons.set(el, why);
      if (el.tagName !== "A") {
        el.dataset.wasDisabled = el.disabled ? "1" : "";
        el.disabled = true;
      }
    } else {
      el.removeAttribute("aria-disabled");
      const why = reasons.get(el);
      if (why) why.remove();
      if (el.tagName !== "A") el.disabled = el.dataset.wasDisabled === "1";
    }
  }

  let pending = null;
  async function check() {
    if (navigator.onLine) {
      for (const el of document.querySelectorAll(`.${MARK}`)) mark(el, false);
      root.dataset.links = "online";
      return;
    }
    root.dataset.links = "checking";
    const links = [...document.querySelectorAll("a[href]")].filter((a) => {
      const url = new URL(a.href, location.href);
      return (url.protocol === "http:" || url.protocol === "https:") && !samePage(url);
    });
    const answers = await answerable(links.map((a) => a.href));
    if (navigator.onLine) return check();  // back online meanwhile
    if (answers) links.forEach((a, i) => mark(a, !answers[i]));
    for (const b of document.querySelectorAll(BUTTONS)) mark(b, true);
    root.dataset.links = "offline";
  }

  /** One check at a time; asked again while one runs: once more after it. */
  function recheck() {
    if (pending) { pending.again = true; return; }
    pending = { again: false };
    root.dataset.links = navigator.onLine ? "online" : "checking";
    check().finally(() => {
      const again = pending.again;
      pending = null;
      if (again) recheck();
    });
  }

  // A greyed link does nothing (a greyed button is disabled).
  document.addEventListener("click", (e) => {
    if (e.target.closest && e.target.closest(`a.${MARK}`)) e.preventDefault();
  }, true);
  addEventListener("online", recheck);
  addEventListener("offline", recheck);
  addEventListener("pageshow", recheck);  // back from the browser's page cache
  new MutationObserver((records) => {
    // Only new links matter; the reasons this script adds are not links.
    const added = records.some((r) => [...r.addedNodes].some((n) => n.nodeType === Node.ELEMENT_NODE
      && !n.classList.contains("needs-network-why")));
    if (added && !navigator.onLine) recheck();
  }).observe(document.body, { childList: true, subtree: true });
  recheck();
}
