/* IndexedDB on the phone: a small promise wrapper of our own, and the stores the offline app keeps.
 *
 * One database per user ("doorstep-<user id>"), so that two people sharing a phone never see
 * each other's drafts or outbox. Stores:
 *   households  keyPath "id"             the households of the collector's units, as the sync
 *                                        API lists them (GET /api/v1/assignments)
 *   drafts      keyPath "household_id"   what is typed into a form, saved as it is typed
 *   outbox      keyPath "submission_id"  signed submissions: waiting, or needing attention
 *   meta        keyPath "key"            the sync cursor, the units, the last sync time
 * Every write is its own transaction and resolves when it is committed (oncomplete), so a
 * resolved put has reached the disk as far as the browser guarantees.
 */

const VERSION = 1;
const STORES = { households: "id", drafts: "household_id", outbox: "submission_id", meta: "key" };
const opened = new Map();

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export function open(userId) {
  const name = `doorstep-${userId}`;
  if (!opened.has(name)) {
    const request = indexedDB.open(name, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const [store, keyPath] of Object.entries(STORES)) {
        if (!db.objectStoreNames.contains(store)) db.createObjectStore(store, { keyPath });
      }
    };
    opened.set(name, promised(request).then((db) => new Store(db)));
  }
  return opened.get(name);
}

class Store {
  constructor(db) { this.db = db; }

  /** Run fn(stores) in one transaction; resolves with fn's result once committed. */
  transaction(names, mode, fn) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(names, mode);
      const stores = Object.fromEntries([].concat(names).map((n) => [n, tx.objectStore(n)]));
      let result;
      Promise.resolve(fn(stores)).then((r) => { result = r; }, (e) => { tx.abort(); reject(e); });
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  get(store, key) { return this.transaction(store, "readonly", (s) => promised(s[store].get(key))); }
  all(store) { return this.transaction(store, "readonly", (s) => promised(s[store].getAll())); }
  put(store, value) { return this.transaction(store, "readwrite", (s) => { s[store].put(value); }); }
  delete(store, key) { return this.transaction(store, "readwrite", (s) => { s[store].delete(key); }); }

  async getMeta(key, fallback = null) {
    const row = await this.get("meta", key);
    return row ? row.value : fallback;
  }
  setMeta(key, value) { return this.put("meta", { key, value }); }
}
