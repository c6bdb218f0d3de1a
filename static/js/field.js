/* The field app's shell (/field/): keeps a case worker's assigned children in IndexedDB, lists them offline,
   records the work of a home visit offline (contacts, a status change, help given, a newly found child) in a
   queue, and sends the queue when there is a signal. Plain JavaScript, no library (README.md, "Field app
   (offline)"). Every word it shows comes from the page (#field-config, translated by the server).

   The device's store: the database "abe-field" with one object store per kind (cases, contacts, steps,
   referrals), "meta" (the last download's and sync's times, whose data it is, the forms' choices) and
   "queue" (the changes: waiting to sync, or answered with a conflict or a refusal the worker has not seen).

   Sync (POST /field/api/sync/, fieldwork/sync.py): every change carries its own key (a UUID), so a change
   sent twice is applied once; a change is removed from the queue only once the server has answered it, and
   a conflict or a refusal stays until the worker has chosen or read it.

   The store is deleted on signing out (here, and on the sign-in page reached by signing out:
   static/js/field-signout.js), when another account opens the app, and FIELDWORK_DEVICE_DAYS days after the
   last exchange with the server. A session that is gone (401) deletes the downloaded children but keeps the
   queue: the worker signs in again and it is sent. */
(function () {
  "use strict";
  const DB_NAME = "abe-field";
  const DB_VERSION = 2;
  const KINDS = ["cases", "contacts", "steps", "referrals"];
  const BATCH = 100; // changes per request (the server takes at most FIELDWORK_SYNC_MAX_CHANGES)
  const CLOCK_SKEW_MS = 10 * 60 * 1000; // as the server's cases.services.CLOCK_SKEW
  const config = JSON.parse(document.getElementById("field-config").textContent);
  const labels = config.labels;
  const $ = (selector) => document.querySelector(selector);

  function fill(text, values) {
    return text.replace(/%\((\w+)\)[sd]/g, (_, key) => String(values[key]));
  }

  function say(text) {
    $("[data-testid=field-message]").textContent = text || "";
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16)); // available without HTTPS, randomUUID is not
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function csrfToken() {
    const cookie = document.cookie.split("; ").find((part) => part.startsWith(`${config.csrfCookie}=`));
    return cookie ? decodeURIComponent(cookie.split("=")[1]) : config.csrfToken;
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
    request.onupgradeneeded = (event) => {
      const db = request.result;
      if (event.oldVersion < 1) {
        db.createObjectStore("cases", { keyPath: "id" });
        for (const kind of ["contacts", "steps", "referrals"]) {
          db.createObjectStore(kind, { keyPath: "id" }).createIndex("record", "record_id");
        }
        db.createObjectStore("meta", { keyPath: "key" });
      }
      // Version 1's queue was always empty; version 2 keeps the changes in the order they were made.
      if (db.objectStoreNames.contains("queue")) db.deleteObjectStore("queue");
      db.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
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

  async function getMeta(key) {
    const tx = (await db()).transaction("meta", "readonly");
    const row = await done(tx.objectStore("meta").get(key));
    return row ? row.value : null;
  }

  async function setMeta(values) {
    const tx = (await db()).transaction("meta", "readwrite");
    for (const [key, value] of Object.entries(values)) tx.objectStore("meta").put({ key, value });
    return finished(tx);
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
    const meta = tx.objectStore("meta");
    meta.put({ key: "downloaded_at", value: payload.downloaded_at });
    meta.put({ key: "synced_at", value: new Date().toISOString() });
    meta.put({ key: "user", value: config.userId });
    if (payload.choices) meta.put({ key: "choices", value: payload.choices });
    return finished(tx);
  }

  /* The session is gone: the downloaded children go; the queue stays (what the worker typed, to send once
     they sign in again), with the forms' choices and whose it is. */
  async function forgetChildren() {
    const tx = (await db()).transaction([...KINDS, "meta"], "readwrite");
    for (const kind of KINDS) tx.objectStore(kind).clear();
    tx.objectStore("meta").delete("downloaded_at");
    return finished(tx);
  }

  // --- the queue -------------------------------------------------------------------------------------------
  async function queueAll() {
    return readAll("queue");
  }

  async function enqueue(item) {
    const tx = (await db()).transaction(["queue", "meta"], "readwrite");
    tx.objectStore("queue").add({ key: uuid(), made_at: new Date().toISOString(), state: "pending", ...item });
    tx.objectStore("meta").put({ key: "user", value: config.userId });
    return finished(tx);
  }

  async function queueWrite(puts, deletes) {
    const tx = (await db()).transaction("queue", "readwrite");
    puts.forEach((item) => tx.objectStore("queue").put(item));
    deletes.forEach((seq) => tx.objectStore("queue").delete(seq));
    return finished(tx);
  }

  function asChange(item) {
    return { key: item.key, kind: item.kind, made_at: item.made_at, ...(item.record ? { record: item.record } : {}), ...item.body };
  }

  // --- the page ------------------------------------------------------------------------------------------
  const locale = () => (document.documentElement.lang === "en" ? "en-GB" : "th-TH");
  const when = (iso) => new Date(iso).toLocaleString(locale(), { dateStyle: "medium", timeStyle: "short" });
  const day = (iso) => new Date(iso).toLocaleDateString(locale(), { dateStyle: "medium" });
  const pad = (n) => String(n).padStart(2, "0");
  const localDay = (date) => `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const localMinute = (date) => `${localDay(date)}T${pad(date.getHours())}:${pad(date.getMinutes())}`;

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function button(text, testid, onClick, className) {
    const node = element("button", className || "btn secondary", text);
    node.type = "button";
    if (testid) node.dataset.testid = testid;
    node.addEventListener("click", onClick);
    return node;
  }

  let state = { cases: [], choices: null, queue: [] };
  let signedOut = false; // the server said the session is gone: until a download succeeds again

  function choiceName(list, code) {
    const found = (list || []).find((row) => row.code === code);
    return found ? found.name : code;
  }

  /* The status a child has on this device: the server's, or the last one the worker chose and has not sent. */
  function statusOf(child) {
    const mine = state.queue.filter((item) => item.kind === "status" && item.record === child.id && item.state === "pending");
    if (!mine.length) return { ...child.status, waiting: false };
    const last = mine[mine.length - 1];
    return { code: last.body.to, name: last.to_name, waiting: true };
  }

  function card(child, parts) {
    const item = element("li", "field-card card");
    item.dataset.testid = "case-card";
    item.dataset.record = child.id;
    const head = element("div", "field-card-head");
    head.append(element("h2", "field-name", child.name));
    const status = statusOf(child);
    const badge = element("span", "badge status", status.waiting ? `${status.name} · ${labels.waiting_short}` : status.name);
    badge.dataset.testid = "status";
    head.append(badge);
    item.append(head);
    const age = child.age === null ? labels.age_unknown : fill(labels.years, { age: child.age });
    const area = [child.areas.sub_district, child.areas.district].filter(Boolean).join(", ") || child.areas.province;
    item.append(element("p", "field-facts", `${age} · ${area}`));
    item.append(element("p", "field-id muted", child.identifier));
    const waiting = state.queue.filter((row) => row.record === child.id && row.kind === "contact" && row.state === "pending");
    const lastAt = [child.last_contact_at, ...waiting.map((row) => row.body.contact.happened_at)].filter(Boolean).sort().pop();
    let last = lastAt ? `${labels.last_contact}: ${when(lastAt)}` : labels.no_contact;
    if (waiting.length) last += ` (${labels.waiting_short})`;
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
    const actions = element("div", "field-card-actions");
    actions.append(
      button(labels.log_contact, "log-contact", () => contactForm(child)),
      button(labels.change_status, "change-status", () => statusForm(child)),
      button(labels.record_help, "record-help", () => helpForm(child))
    );
    item.append(actions);
    return item;
  }

  function byRecord(rows) {
    const map = new Map();
    rows.forEach((row) => map.set(row.record_id, [...(map.get(row.record_id) || []), row]));
    return map;
  }

  function describe(item) {
    const name = item.label;
    if (item.kind === "contact") {
      return `${name}: ${choiceName(state.choices && state.choices.contact_kinds, item.body.contact.kind)} ${when(item.body.contact.happened_at)}`;
    }
    if (item.kind === "status") return `${name}: ${labels.status_to} ${item.to_name}`;
    if (item.kind === "help") return `${name}: ${labels.help_given} ${choiceName(state.choices && state.choices.assistance_types, item.body.help.type)}`;
    return `${labels.new_child_label}: ${name}`;
  }

  function waitingRow(item) {
    const row = element("li", `field-wait is-${item.state}`);
    row.dataset.testid = `queue-${item.state}`;
    row.dataset.key = item.key;
    row.append(element("p", "field-wait-what", describe(item)));
    row.append(element("p", "muted field-wait-when", fill(labels.recorded_at, { when: when(item.made_at) })));
    if (item.state === "pending") {
      // Not sent yet: the worker may take back what they typed by mistake (asked first).
      row.append(button(labels.remove_pending, "remove-pending", () => removePending(item), "btn secondary small"));
    }
    if (item.state === "refused") {
      const reason = element("p", "field-wait-reason", `${labels.refused}: ${item.reason || ""}`);
      reason.dataset.testid = "refusal-reason";
      row.append(reason);
      const errors = Object.values(item.errors || {}).flat().filter((text) => text && text !== item.reason);
      if (errors.length) {
        const list = element("ul", "field-wait-errors");
        errors.forEach((text) => list.append(element("li", null, text)));
        row.append(list);
      }
      row.append(button(labels.seen_remove, "dismiss", () => dismiss(item)));
    }
    if (item.state === "conflict") {
      const c = item.conflict;
      const text = fill(c.changed_by ? labels.conflict_by : labels.conflict, {
        name: item.label,
        yours: c.yours.name,
        theirs: c.theirs.name,
        base: c.base.name,
        who: c.changed_by || "",
      });
      const line = element("p", "field-wait-conflict", text);
      line.dataset.testid = "conflict-text";
      row.append(line);
      const choose = element("div", "field-choose");
      choose.append(
        button(fill(labels.keep_mine, { value: c.yours.name }), "keep-mine", () => keepMine(item), "btn"),
        button(fill(labels.keep_theirs, { value: c.theirs.name }), "keep-theirs", () => keepTheirs(item))
      );
      row.append(choose);
    }
    return row;
  }

  async function render() {
    const [cases, steps, referrals, downloadedAt, choices, queue] = await Promise.all([
      readAll("cases"),
      readAll("steps"),
      readAll("referrals"),
      getMeta("downloaded_at"),
      getMeta("choices"),
      queueAll(),
    ]);
    state = { cases, choices, queue };
    const parts = { steps: byRecord(steps), referrals: byRecord(referrals) };
    cases.sort((a, b) => a.name.localeCompare(b.name, "th"));
    const list = $("[data-testid=case-list]");
    list.replaceChildren(...cases.map((child) => card(child, parts)));
    if (downloadedAt && !cases.length) list.append(element("li", "field-empty muted", labels.no_cases));
    $("[data-testid=downloaded-at]").textContent = downloadedAt
      ? fill(labels.downloaded_at, { when: when(downloadedAt) })
      : labels.never_downloaded;
    const pending = queue.filter((item) => item.state === "pending");
    $("[data-testid=pending-count]").textContent = String(pending.length);
    const attention = queue.filter((item) => item.state !== "pending");
    const waiting = $("[data-testid=waiting]");
    waiting.hidden = !queue.length;
    // What needs the worker first, in full; what merely waits folded away once it is more than a few lines.
    $("[data-testid=waiting-list]").replaceChildren(...attention.map(waitingRow));
    const folded = $("[data-testid=waiting-pending]");
    folded.hidden = !pending.length;
    folded.open = pending.length <= 5;
    folded.querySelector("summary").textContent = fill(labels.pending_summary, { count: pending.length });
    folded.querySelector("ul").replaceChildren(...pending.map(waitingRow));
    $("[data-testid=new-child]").disabled = !choices || !(choices.provinces || []).length;
    document.body.dataset.state = signedOut ? "signed-out" : downloadedAt ? "downloaded" : "empty";
    $("[data-testid=sign-in]").hidden = !signedOut;
    document.body.dataset.pending = String(pending.length);
  }

  // --- forms (a sheet from the bottom of the screen) ---------------------------------------------------------
  const sheet = () => $("[data-testid=sheet]");

  function field(spec) {
    const wrap = element("div", `field-input field-input-${spec.type || "text"}`);
    const id = `f-${spec.name}`;
    let input;
    if (spec.type === "select") {
      input = element("select");
      if (spec.blank !== undefined) input.append(new Option(spec.blank, ""));
      (spec.options || []).forEach((option) => input.append(new Option(option.name, option.code)));
      if (spec.value !== undefined && spec.value !== null) input.value = spec.value;
    } else if (spec.type === "textarea") {
      input = element("textarea");
      input.rows = 3;
      input.value = spec.value || "";
    } else {
      input = element("input");
      input.type = spec.type || "text";
      if (spec.type === "checkbox") input.checked = Boolean(spec.value);
      else input.value = spec.value || "";
      if (spec.inputmode) input.inputMode = spec.inputmode;
      if (spec.maxlength) input.maxLength = spec.maxlength;
    }
    input.id = id;
    input.name = spec.name;
    if (spec.required) input.required = true;
    const label = element("label", null, spec.label);
    label.htmlFor = id;
    if (spec.type === "checkbox") wrap.append(input, label);
    else wrap.append(label, input);
    const error = element("p", "field-error");
    error.dataset.error = spec.name;
    error.hidden = true;
    wrap.append(error);
    return wrap;
  }

  /* Opens the sheet with `specs`; `submit(values, form)` returns errors by field (shown under each) or nothing. */
  function openSheet(title, specs, submit) {
    const dialog = sheet();
    const form = element("form", "field-sheet-form");
    form.noValidate = true;
    form.append(element("h2", null, title));
    specs.forEach((spec) => form.append(field(spec)));
    const formError = element("p", "field-error");
    formError.dataset.error = "__all__";
    formError.hidden = true;
    form.append(formError);
    const bar = element("div", "field-sheet-actions");
    const saveButton = element("button", "btn", labels.save);
    saveButton.type = "submit";
    saveButton.dataset.testid = "sheet-save";
    bar.append(saveButton, button(labels.cancel, "sheet-cancel", () => dialog.close()));
    form.append(bar);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = {};
      specs.forEach((spec) => {
        const input = form.elements[spec.name];
        values[spec.name] = spec.type === "checkbox" ? input.checked : input.value.trim();
      });
      form.querySelectorAll("[data-error]").forEach((node) => {
        node.hidden = true;
        node.textContent = "";
      });
      saveButton.disabled = true;
      try {
        const errors = await submit(values, form);
        if (errors && Object.keys(errors).length) {
          for (const [name, text] of Object.entries(errors)) {
            const node = form.querySelector(`[data-error="${name}"]`) || formError;
            node.textContent = text;
            node.hidden = false;
          }
          // The first error in sight, its field ready to be corrected.
          const first = form.querySelector("[data-error]:not([hidden])");
          first.scrollIntoView({ block: "center" });
          const input = first.parentElement.querySelector("input, select, textarea");
          if (input) input.focus({ preventScroll: true });
          return;
        }
        dialog.close();
      } finally {
        saveButton.disabled = false;
      }
    });
    dialog.replaceChildren(form);
    dialog.showModal();
    const first = form.querySelector("input, select, textarea");
    if (first) first.focus();
    return form;
  }

  async function recorded(item) {
    await enqueue(item);
    await render();
    say(labels.saved_on_device);
    if (navigator.onLine) refresh(); // sends it now; offline, it waits for the signal
  }

  function inFuture(date) {
    return date.getTime() > Date.now() + CLOCK_SKEW_MS;
  }

  function position() {
    return new Promise((resolve) => {
      if (!("geolocation" in navigator)) return resolve(null);
      navigator.geolocation.getCurrentPosition(
        (found) => resolve({ lat: found.coords.latitude, lon: found.coords.longitude, accuracy: Math.round(found.coords.accuracy) }),
        () => resolve(null),
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }

  function contactForm(child) {
    const kinds = (state.choices && state.choices.contact_kinds) || [];
    openSheet(fill(labels.contact_title, { name: child.name }), [
      { name: "kind", label: labels.contact_kind, type: "select", options: kinds, value: kinds.length ? kinds[0].code : "" },
      { name: "happened_at", label: labels.happened_at, type: "datetime-local", value: localMinute(new Date()), required: true },
      { name: "reached", label: labels.reached, type: "checkbox", value: true },
      { name: "with_whom", label: labels.with_whom, maxlength: 200 },
      { name: "findings", label: labels.findings, type: "textarea" },
      { name: "next_step", label: labels.next_step, type: "textarea" },
      { name: "next_due", label: labels.next_due, type: "date" },
      { name: "gps", label: labels.gps, type: "checkbox", value: false },
    ], async (values) => {
      const happened = new Date(values.happened_at);
      if (!values.happened_at || Number.isNaN(happened.getTime())) return { happened_at: labels.required };
      if (inFuture(happened)) return { happened_at: labels.contact_future };
      if (values.next_due && values.next_due < localDay(happened)) return { next_due: labels.next_due_before };
      // GPS only when the worker ticks it, for this contact; without a fix the contact is kept without it.
      const location = values.gps ? await position() : null;
      await recorded({
        kind: "contact",
        record: child.id,
        label: child.name,
        body: {
          contact: {
            kind: values.kind,
            happened_at: happened.toISOString(),
            reached: values.reached,
            with_whom: values.with_whom,
            findings: values.findings,
            next_step: values.next_step,
            next_due: values.next_due || null,
            location,
          },
        },
      });
      if (values.gps && !location) say(labels.gps_failed);
      return null;
    });
  }

  function statusForm(child) {
    const statuses = (state.choices && state.choices.statuses) || [];
    const current = statusOf(child);
    openSheet(fill(labels.status_title, { name: child.name }), [
      { name: "to", label: labels.new_status, type: "select", options: statuses, value: current.code },
    ], async (values) => {
      if (values.to === current.code) return { to: labels.same_status };
      await recorded({
        kind: "status",
        record: child.id,
        label: child.name,
        to_name: choiceName(statuses, values.to),
        body: { base_version: child.version, from: current.code, to: values.to },
      });
      return null;
    });
  }

  function helpForm(child) {
    const types = (state.choices && state.choices.assistance_types) || [];
    openSheet(fill(labels.help_title, { name: child.name }), [
      { name: "type", label: labels.help_type, type: "select", options: types, value: types.length ? types[0].code : "" },
      { name: "date", label: labels.help_date, type: "date", value: localDay(new Date()), required: true },
      { name: "given_by", label: labels.given_by, value: config.workerName, required: true, maxlength: 200 },
      { name: "outcome", label: labels.help_outcome, type: "textarea" },
    ], async (values) => {
      if (!values.date) return { date: labels.required };
      if (values.date > localDay(new Date())) return { date: labels.help_future };
      if (!values.given_by) return { given_by: labels.given_by_missing };
      await recorded({
        kind: "help",
        record: child.id,
        label: child.name,
        body: { help: { type: values.type, date: values.date, given_by: values.given_by, outcome: values.outcome } },
      });
      return null;
    });
  }

  // The identifier's rules, as the server's (core/thai_id.py): the device checks what it can, the server all.
  function checkIdentifier(raw) {
    const thai = "๐๑๒๓๔๕๖๗๘๙";
    let text = raw.replace(/[๐-๙]/g, (digit) => String(thai.indexOf(digit))).replace(/[\s\-.]/g, "");
    if (!text) return { error: labels.id_missing };
    if (text[0] === "g" || text[0] === "G") {
      text = "G" + text.slice(1);
      if (text.length !== 13 || !/^\d{12}$/.test(text.slice(1))) return { error: labels.id_g_code };
      return { identifier: text, kind: "g_code" };
    }
    if (!/^\d+$/.test(text)) return { error: labels.id_characters };
    if (text.length !== 13) return { error: fill(labels.id_length, { count: text.length }) };
    if (text[0] === "9") return { error: labels.id_first_digit };
    let total = 0;
    for (let i = 0; i < 12; i += 1) total += Number(text[i]) * (13 - i);
    if ((11 - (total % 11)) % 10 !== Number(text[12])) return { error: labels.id_checksum };
    return { identifier: text, kind: "national_id" };
  }

  function checkPhone(raw) {
    let digits = raw.replace(/\D/g, "");
    if (!digits) return { phone: "" };
    if (digits.length === 9 && "689".includes(digits[0])) digits = "0" + digits;
    const mobile = digits.length === 10 && ["06", "08", "09"].includes(digits.slice(0, 2));
    const landline = digits.length === 9 && digits[0] === "0" && "234567".includes(digits[1]);
    return mobile || landline ? { phone: digits } : { error: labels.phone_invalid };
  }

  function newChildForm() {
    const choices = state.choices || {};
    const provinces = choices.provinces || [];
    const province = provinces[0];
    const form = openSheet(labels.new_child_title, [
      { name: "province", label: labels.province, type: "select", options: provinces, value: province && province.code },
      { name: "district", label: labels.district, type: "select", options: [], blank: labels.not_known },
      { name: "sub_district", label: labels.sub_district, type: "select", options: [], blank: labels.not_known },
      { name: "identifier", label: labels.identifier, inputmode: "text", maxlength: 20, required: true },
      { name: "name_prefix", label: labels.name_prefix, maxlength: 20 },
      { name: "first_name", label: labels.first_name, required: true, maxlength: 100 },
      { name: "last_name", label: labels.last_name, maxlength: 100 },
      { name: "sex", label: labels.sex, type: "select", options: config.sexes, blank: labels.not_known },
      { name: "birth_date", label: labels.birth_date, type: "date" },
      { name: "category", label: labels.category, type: "select", options: choices.categories || [] },
      { name: "guardian_name", label: labels.guardian_name, maxlength: 200 },
      { name: "phone", label: labels.phone, type: "tel", inputmode: "tel", maxlength: 15 },
      { name: "notes", label: labels.notes, type: "textarea" },
    ], async (values) => {
      const errors = {};
      const id = checkIdentifier(values.identifier);
      if (id.error) errors.identifier = id.error;
      if (!values.first_name) errors.first_name = labels.first_name_missing;
      if (values.birth_date && values.birth_date > localDay(new Date())) errors.birth_date = labels.birth_future;
      const phone = checkPhone(values.phone);
      if (phone.error) errors.phone = phone.error;
      if (Object.keys(errors).length) return errors;
      const name = [values.name_prefix, values.first_name, values.last_name].filter(Boolean).join(" ");
      await recorded({
        kind: "new_child",
        record: null,
        label: name,
        body: {
          child: {
            province: Number(values.province),
            identifier: id.identifier,
            identifier_kind: id.kind,
            name_prefix: values.name_prefix,
            first_name: values.first_name,
            last_name: values.last_name,
            sex: values.sex,
            birth_date: values.birth_date || null,
            district: values.district ? Number(values.district) : null,
            sub_district: values.sub_district ? Number(values.sub_district) : null,
            category: values.category,
            guardian_name: values.guardian_name,
            phone: phone.phone,
            notes: values.notes,
          },
        },
      });
      return null;
    });
    // The district's list follows the province, the sub-district's the district.
    const provinceInput = form.elements.province;
    const districtInput = form.elements.district;
    const subInput = form.elements.sub_district;
    const options = (select, rows) => {
      select.replaceChildren(new Option(labels.not_known, ""), ...rows.map((row) => new Option(row.name, row.code)));
    };
    const districts = () => (provinces.find((p) => String(p.code) === provinceInput.value) || { districts: [] }).districts;
    provinceInput.addEventListener("change", () => {
      options(districtInput, districts());
      options(subInput, []);
    });
    districtInput.addEventListener("change", () => {
      const district = districts().find((d) => String(d.code) === districtInput.value);
      options(subInput, district ? district.sub_districts : []);
    });
    options(districtInput, districts());
  }

  // --- the answers of a conflict and a refusal ----------------------------------------------------------------
  async function keepMine(item) {
    // A new change (a new key), based on what the server has now: the server applies it unless it moved again.
    const c = item.conflict;
    const again = {
      kind: "status",
      record: item.record,
      label: item.label,
      to_name: item.to_name,
      body: { base_version: c.version, from: c.theirs.code, to: item.body.to },
    };
    const tx = (await db()).transaction("queue", "readwrite");
    tx.objectStore("queue").delete(item.seq);
    tx.objectStore("queue").add({ key: uuid(), made_at: new Date().toISOString(), state: "pending", ...again });
    await finished(tx);
    await render();
    say(labels.choice_saved);
    if (navigator.onLine) await refresh();
  }

  async function keepTheirs(item) {
    // The server keeps its value: nothing to send. The download shows it.
    await queueWrite([], [item.seq]);
    await render();
    say(labels.choice_saved);
    if (navigator.onLine) await refresh();
  }

  async function removePending(item) {
    if (!window.confirm(fill(labels.remove_pending_confirm, { what: describe(item) }))) return;
    await queueWrite([], [item.seq]);
    await render();
  }

  async function dismiss(item) {
    await queueWrite([], [item.seq]);
    await render();
  }

  // --- talking to the server --------------------------------------------------------------------------------
  async function sessionGone(status) {
    signedOut = true;
    const queue = await queueAll();
    await forgetChildren();
    await render();
    const pending = queue.filter((item) => item.state !== "refused").length;
    if (status === 403) say(labels.not_case_worker);
    else say(pending ? fill(labels.signed_out_kept, { count: pending }) : labels.signed_out);
  }

  /* Whether the answer says the session is gone: 401; a redirect (the session reached its hard limit and the
     server sent the request to the sign-in page); 403 "not a case worker" (a 403 for a stale CSRF token is not). */
  async function gone(response) {
    if (response.status === 401 || response.redirected) return true;
    if (response.status !== 403) return false;
    try {
      return (await response.clone().json()).code !== "csrf";
    } catch (error) {
      return false; // a 403 page, not the app's JSON
    }
  }

  /* Sends what waits, in batches. ok: every batch was answered; message: what to tell the worker (none when
     nothing waited). */
  async function sendQueue() {
    const pending = (await queueAll()).filter((item) => item.state === "pending");
    if (!pending.length) return { ok: true, message: null };
    say(fill(labels.sending, { count: pending.length }));
    let applied = 0;
    let attention = 0;
    for (let start = 0; start < pending.length; start += BATCH) {
      const batch = pending.slice(start, start + BATCH);
      let response;
      try {
        response = await fetch(config.syncUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
          body: JSON.stringify({ changes: batch.map(asChange) }),
        });
      } catch (error) {
        say(navigator.onLine ? labels.sync_failed : labels.offline_waiting);
        return { ok: false };
      }
      if (await gone(response)) {
        await sessionGone(response.status);
        return { ok: false };
      }
      if (!response.ok) {
        say(response.status === 403 ? labels.sign_in_again : labels.sync_failed);
        return { ok: false };
      }
      const payload = await response.json();
      const byKey = new Map(batch.map((item) => [item.key, item]));
      const puts = [];
      const deletes = [];
      for (const result of payload.results) {
        const item = byKey.get(result.key);
        if (!item) continue;
        if (result.result === "applied") {
          deletes.push(item.seq);
          applied += 1;
        } else if (result.result === "conflict") {
          puts.push({ ...item, state: "conflict", conflict: result.conflict });
          attention += 1;
        } else {
          puts.push({ ...item, state: "refused", reason: result.reason, errors: result.errors || {} });
          attention += 1;
        }
      }
      await queueWrite(puts, deletes);
      await setMeta({ synced_at: payload.synced_at || new Date().toISOString() });
    }
    const message = attention
      ? fill(labels.sent_attention, { count: applied, attention })
      : fill(labels.sent, { count: applied });
    return { ok: true, message };
  }

  async function download() {
    let response;
    try {
      response = await fetch(config.myCasesUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch (error) {
      say(navigator.onLine ? labels.failed : labels.offline);
      return false;
    }
    if ((await gone(response)) || response.status === 403) {
      await sessionGone(response.status);
      return false;
    }
    if (!response.ok) {
      say(labels.failed);
      return false;
    }
    const payload = await response.json();
    await save(payload);
    return payload.cases.length;
  }

  /* Sync: what waits goes first, then the download brings the server's state (with what was just sent). */
  let running = null;
  let again = false; // asked while a sync ran: a change recorded meanwhile is sent by one more round
  function refresh() {
    if (running) {
      again = true;
      return running;
    }
    again = false;
    running = (async () => {
      const button = $("[data-testid=download]");
      button.disabled = true;
      try {
        const sent = await sendQueue();
        if (!sent.ok) return;
        if (!sent.message) say(labels.downloading);
        const count = await download();
        if (count === false) return;
        signedOut = false;
        say(sent.message || fill(labels.downloaded, { count }));
      } finally {
        button.disabled = false;
        await render();
        document.body.dataset.synced = String(Date.now());
      }
    })().finally(() => {
      running = null;
      if (again && navigator.onLine) refresh();
    });
    return running;
  }

  async function signOut(event) {
    const pending = (await queueAll()).filter((item) => item.state === "pending").length;
    if (pending && !window.confirm(fill(labels.sign_out_pending, { count: pending }))) return;
    await clearDevice();
    event.target.submit();
  }

  async function start() {
    if (!("indexedDB" in window)) {
      say(labels.unsupported);
      return;
    }
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register(config.workerUrl, { scope: config.scope }).catch(() => {});
    }
    // Another account's data never shows (a device shared, or a session that ended without signing out).
    const owner = await getMeta("user");
    if (owner !== null && owner !== config.userId) {
      await clearDevice();
      say(labels.other_account);
    }
    const last = (await getMeta("synced_at")) || (await getMeta("downloaded_at"));
    const maxAge = config.deviceDays * 24 * 60 * 60 * 1000;
    const expired = Boolean(last) && Date.now() - new Date(last).getTime() > maxAge;
    if (expired) {
      const lost = (await queueAll()).length;
      await clearDevice();
      say(fill(lost ? labels.expired_with_changes : labels.expired, { days: config.deviceDays, count: lost }));
    }
    await render();
    $("[data-testid=download]").addEventListener("click", () => refresh());
    $("[data-testid=new-child]").addEventListener("click", newChildForm);
    $("[data-testid=signout-form]").addEventListener("submit", (event) => {
      event.preventDefault();
      signOut(event);
    });
    window.addEventListener("online", () => refresh());
    document.body.dataset.ready = "1";
    if (navigator.onLine) await refresh();
    else if (!expired) say(labels.offline);
  }

  start();
})();
