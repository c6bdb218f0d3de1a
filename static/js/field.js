/* The field app's shell (/field/): keeps a case worker's assigned children in IndexedDB and lists them
   offline. Plain JavaScript, no library (README.md, "Field app (offline)"). Every word it shows comes from
   the page (#field-config, translated by the server).

   The device's store: the database "abe-field" with one object store per kind (cases, contacts, steps,
   referrals), "meta" (the last download's time) and "queue" (changes waiting to sync: empty for now).
   It is deleted when the server says the session is gone (401/403), on the portal's sign-in page
   (static/js/field-signout.js), and when nothing was downloaded for FIELDWORK_DEVICE_DAYS days. */
(function () {
  "use strict";
  const DB_NAME = "abe-field";
  const DB_VERSION = 1;
  const KINDS = ["cases", "contacts", "steps", "referrals"];
  const config = JSON.parse(document.getElementById("field-config").textContent);
  const labels = config.labels;
  const $ = (selector) => document.querySelector(selector);

  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));
  }

  function say(text) {
    $("[data-testid=field-message]").textContent = text || "";
  }

  // --- IndexedDB, as promises --------------------------------------------------------------------------
  function done(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  function openStore() {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("cases", { keyPath: "id" });
      for (const kind of ["contacts", "steps", "referrals"]) {
        db.createObjectStore(kind, { keyPath: "id" }).createIndex("record", "record_id");
      }
      db.createObjectStore("meta", { keyPath: "key" });
      db.createObjectStore("queue", { keyPath: "key", autoIncrement: true });
    };
    return done(request);
  }

  function finished(tx) {
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  let dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = openStore().then((opened) => {
        // Another page deletes the store (the sign-in page after signing out): let it go at once.
        opened.onversionchange = () => {
          opened.close();
          dbPromise = null;
        };
        return opened;
      });
    }
    return dbPromise;
  }

  async function clearDevice() {
    if (dbPromise) {
      (await dbPromise).close();
      dbPromise = null;
    }
    await done(indexedDB.deleteDatabase(DB_NAME));
  }

  async function readAll(store) {
    const tx = (await db()).transaction(store, "readonly");
    return done(tx.objectStore(store).getAll());
  }

  async function count(store) {
    const tx = (await db()).transaction(store, "readonly");
    return done(tx.objectStore(store).count());
  }

  async function getMeta(key) {
    const tx = (await db()).transaction("meta", "readonly");
    const row = await done(tx.objectStore("meta").get(key));
    return row ? row.value : null;
  }

  async function save(payload) {
    const tx = (await db()).transaction([...KINDS, "meta"], "readwrite");
    for (const kind of KINDS) tx.objectStore(kind).clear();
    for (const child of payload.cases) {
      const { contacts, open_steps, open_referrals, ...card } = child;
      tx.objectStore("cases").put(card);
      contacts.forEach((row) => tx.objectStore("contacts").put({ ...row, record_id: child.id }));
      open_steps.forEach((row) => tx.objectStore("steps").put({ ...row, record_id: child.id }));
      open_referrals.forEach((row) => tx.objectStore("referrals").put({ ...row, record_id: child.id }));
    }
    tx.objectStore("meta").put({ key: "downloaded_at", value: payload.downloaded_at });
    return finished(tx);
  }

  // --- the page ------------------------------------------------------------------------------------------
  const when = (iso) =>
    new Date(iso).toLocaleString(document.documentElement.lang === "en" ? "en-GB" : "th-TH", {
      dateStyle: "medium",
      timeStyle: "short",
    });
  const day = (iso) =>
    new Date(iso).toLocaleDateString(document.documentElement.lang === "en" ? "en-GB" : "th-TH", {
      dateStyle: "medium",
    });

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function card(child, parts) {
    const item = element("li", "field-card card");
    item.dataset.testid = "case-card";
    item.dataset.record = child.id;
    const head = element("div", "field-card-head");
    head.append(element("h2", "field-name", child.name));
    head.append(element("span", "badge status", child.status.name));
    item.append(head);
    const age = child.age === null ? labels.age_unknown : fill(labels.years, { age: child.age });
    const area = [child.areas.sub_district, child.areas.district].filter(Boolean).join(", ") || child.areas.province;
    item.append(element("p", "field-facts", `${age} · ${area}`));
    item.append(element("p", "field-id muted", child.identifier));
    const last = child.last_contact_at ? `${labels.last_contact}: ${when(child.last_contact_at)}` : labels.no_contact;
    const lastLine = element("p", "field-last", last);
    lastLine.dataset.testid = "last-contact";
    item.append(lastLine);
    if (!child.case_open && child.case_version !== null) item.append(element("p", "muted", labels.closed));
    const steps = parts.steps.get(child.id) || [];
    const referrals = parts.referrals.get(child.id) || [];
    if (steps.length || referrals.length) {
      const more = element("details", "field-more");
      more.append(element("summary", null, `${labels.open_steps} ${steps.length} · ${labels.open_referrals} ${referrals.length}`));
      const list = element("ul");
      steps.forEach((step) => list.append(element("li", null, step.due_on ? `${step.text} (${day(step.due_on)})` : step.text)));
      referrals.forEach((ref) => list.append(element("li", null, `${ref.agency}: ${ref.state_label} (${day(ref.deadline)})`)));
      more.append(list);
      item.append(more);
    }
    return item;
  }

  function byRecord(rows) {
    const map = new Map();
    rows.forEach((row) => map.set(row.record_id, [...(map.get(row.record_id) || []), row]));
    return map;
  }

  async function render() {
    const [cases, steps, referrals, downloadedAt, pending] = await Promise.all([
      readAll("cases"),
      readAll("steps"),
      readAll("referrals"),
      getMeta("downloaded_at"),
      count("queue"),
    ]);
    const parts = { steps: byRecord(steps), referrals: byRecord(referrals) };
    cases.sort((a, b) => a.name.localeCompare(b.name, "th"));
    const list = $("[data-testid=case-list]");
    list.replaceChildren(...cases.map((child) => card(child, parts)));
    if (downloadedAt && !cases.length) list.append(element("li", "field-empty muted", labels.no_cases));
    $("[data-testid=downloaded-at]").textContent = downloadedAt
      ? fill(labels.downloaded_at, { when: when(downloadedAt) })
      : labels.never_downloaded;
    $("[data-testid=pending-count]").textContent = String(pending);
    document.body.dataset.state = downloadedAt ? "downloaded" : "empty";
  }

  async function signedOut() {
    await clearDevice();
    await render();
    say(labels.signed_out);
    document.body.dataset.state = "signed-out";
  }

  async function download() {
    const button = $("[data-testid=download]");
    button.disabled = true;
    say(labels.downloading);
    try {
      let response;
      try {
        response = await fetch(config.myCasesUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      } catch (error) {
        say(navigator.onLine ? labels.failed : labels.offline);
        return;
      }
      // 401/403: the session is gone, or the person is no longer a case worker. A redirect: the session reached
      // its hard limit and the server sent the request to the sign-in page.
      if (response.status === 401 || response.status === 403 || response.redirected) {
        await signedOut();
        return;
      }
      if (!response.ok) {
        say(labels.failed);
        return;
      }
      const payload = await response.json();
      await save(payload);
      await render();
      say(fill(labels.downloaded, { count: payload.cases.length }));
    } finally {
      button.disabled = false;
    }
  }

  async function start() {
    if (!("indexedDB" in window)) {
      say(labels.unsupported);
      return;
    }
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register(config.workerUrl, { scope: config.scope }).catch(() => {});
    }
    const downloadedAt = await getMeta("downloaded_at");
    const maxAge = config.deviceDays * 24 * 60 * 60 * 1000;
    const expired = Boolean(downloadedAt) && Date.now() - new Date(downloadedAt).getTime() > maxAge;
    if (expired) {
      await clearDevice();
      say(fill(labels.expired, { days: config.deviceDays }));
    }
    await render();
    $("[data-testid=download]").addEventListener("click", download);
    document.body.dataset.ready = "1";
    if (navigator.onLine) await download();
    else if (!expired) say(labels.offline);
  }

  start();
})();
