/* The portal's date input (core/date_input.py ThaiDateInput): a text box for day/month/year
   and, with this script, a small calendar beside it. In Thai (<html lang="th">) it shows Thai month
   names and พ.ศ. years and writes 20/01/2570; otherwise ค.ศ. and 20/01/2027. The server reads both
   (buddhist_dates.parse_thai_date: a year of 2400 or more is พ.ศ.), so the text box alone is enough.
   Keyboard: Alt+ArrowDown or the button opens it; arrows move a day or a week, PageUp/PageDown a
   month (with Shift a year; « » ‹ › do the same), Home/End the week, Enter or Space chooses, Escape closes.
   No library: loaded by base.html (with data-css naming its stylesheet) and by the widget's Media. */
(function () {
  "use strict";
  if (window.abeThaiDate) { return; }  // base.html and a form's Media may both load it
  window.abeThaiDate = true;

  var script = document.currentScript;
  var lang = (document.documentElement.lang || "th").toLowerCase();
  var thai = lang.indexOf("th") === 0;
  var OFFSET = thai ? 543 : 0;
  var MONTHS = thai
    ? ["มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม", "สิงหาคม", "กันยายน",
       "ตุลาคม", "พฤศจิกายน", "ธันวาคม"]
    : ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
       "November", "December"];
  var DAYS = thai ? ["อา", "จ", "อ", "พ", "พฤ", "ศ", "ส"] : ["Su", "Mo", "Tu", "We", "Th", "Fr", "Sa"];
  var TEXT = thai
    ? {open: "เลือกวันที่จากปฏิทิน", prev: "เดือนก่อน", next: "เดือนถัดไป", prevYear: "ปีก่อน",
       nextYear: "ปีถัดไป", today: "วันนี้", close: "ปิด", year: "พ.ศ."}
    : {open: "Choose the date from a calendar", prev: "Previous month", next: "Next month",
       prevYear: "Previous year", nextYear: "Next year", today: "Today", close: "Close", year: ""};

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function format(d) { return pad(d.getDate()) + "/" + pad(d.getMonth() + 1) + "/" + (d.getFullYear() + OFFSET); }
  function sameDay(a, b) {
    return a && b && a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }
  function parse(text) {
    // Only to open the calendar at the typed day; the server does the real reading.
    var m = String(text || "").replace(/[๐-๙]/g, function (c) { return c.charCodeAt(0) - 0x0E50; })
      .trim().match(/^(\d{1,2})[\/.\-](\d{1,2})[\/.\-](\d{4})$/);
    if (!m) { return null; }
    var year = +m[3];
    if (year >= 2400) { year -= 543; }
    var d = new Date(year, +m[2] - 1, +m[1]);
    return d.getMonth() === +m[2] - 1 ? d : null;
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  var counter = 0;

  function attach(input) {
    // An admin inline's empty template row (__prefix__) is cloned by "Add another": its copy is set up
    // on Django's formset:added event, below.
    if (input.getAttribute("data-thai-date-ready") || (input.name || "").indexOf("__prefix__") !== -1) { return; }
    input.setAttribute("data-thai-date-ready", "1");
    var id = "thai-date-" + (++counter);
    var wrap = el("span", "thai-date");
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var button = el("button", "thai-date-button");
    button.type = "button";
    button.setAttribute("aria-label", TEXT.open);
    button.setAttribute("title", TEXT.open);
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", id);
    button.innerHTML = '<svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true" focusable="false">' +
      '<rect x="2.5" y="4" width="15" height="13.5" rx="2" fill="none" stroke="currentColor" stroke-width="1.6"/>' +
      '<path d="M2.5 8h15M6.5 2.5v3M13.5 2.5v3" stroke="currentColor" stroke-width="1.6" fill="none"/></svg>';
    wrap.appendChild(button);
    if (input.disabled || input.readOnly) { button.disabled = true; }

    var panel = el("div", "thai-date-panel");
    panel.id = id;
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-modal", "false");
    var head = el("div", "thai-date-head");
    var prev = el("button", "thai-date-nav", "‹");
    prev.type = "button";
    prev.setAttribute("aria-label", TEXT.prev);
    var title = el("span", "thai-date-title");
    title.setAttribute("aria-live", "polite");
    title.id = id + "-title";
    var next = el("button", "thai-date-nav", "›");
    next.type = "button";
    next.setAttribute("aria-label", TEXT.next);
    // A year at a time too: a birth date is years back.
    var prevYear = el("button", "thai-date-nav", "«");
    prevYear.type = "button";
    prevYear.setAttribute("aria-label", TEXT.prevYear);
    var nextYear = el("button", "thai-date-nav", "»");
    nextYear.type = "button";
    nextYear.setAttribute("aria-label", TEXT.nextYear);
    head.appendChild(prevYear);
    head.appendChild(prev);
    head.appendChild(title);
    head.appendChild(next);
    head.appendChild(nextYear);
    panel.setAttribute("aria-labelledby", title.id);
    var grid = el("table", "thai-date-grid");
    grid.setAttribute("role", "grid");
    var foot = el("div", "thai-date-foot");
    var todayButton = el("button", "thai-date-today", TEXT.today);
    todayButton.type = "button";
    var closeButton = el("button", "thai-date-close", TEXT.close);
    closeButton.type = "button";
    foot.appendChild(todayButton);
    foot.appendChild(closeButton);
    panel.appendChild(head);
    panel.appendChild(grid);
    panel.appendChild(foot);
    wrap.appendChild(panel);

    var focus = null;  // the day with the keyboard focus; the month shown is its month

    function render(moveFocus) {
      var chosen = parse(input.value);
      var today = new Date();
      title.textContent = MONTHS[focus.getMonth()] + " " + (TEXT.year ? TEXT.year + " " : "") +
        (focus.getFullYear() + OFFSET);
      grid.textContent = "";
      var thead = el("thead");
      var row = el("tr");
      DAYS.forEach(function (name) {
        var th = el("th", null, name);
        th.setAttribute("scope", "col");
        row.appendChild(th);
      });
      thead.appendChild(row);
      grid.appendChild(thead);
      var body = el("tbody");
      var day = new Date(focus.getFullYear(), focus.getMonth(), 1);
      day.setDate(1 - day.getDay());
      var focusCell = null;
      for (var week = 0; week < 6; week++) {
        row = el("tr");
        for (var i = 0; i < 7; i++) {
          var td = el("td");
          var b = el("button", "thai-date-day", String(day.getDate()));
          b.type = "button";
          b.setAttribute("data-date", day.getFullYear() + "-" + (day.getMonth() + 1) + "-" + day.getDate());
          b.setAttribute("aria-label", day.getDate() + " " + MONTHS[day.getMonth()] + " " + (day.getFullYear() + OFFSET));
          b.tabIndex = -1;
          if (day.getMonth() !== focus.getMonth()) { b.classList.add("is-other"); }
          if (sameDay(day, today)) { b.classList.add("is-today"); b.setAttribute("aria-current", "date"); }
          if (sameDay(day, chosen)) { b.classList.add("is-chosen"); b.setAttribute("aria-selected", "true"); }
          if (sameDay(day, focus)) { b.tabIndex = 0; focusCell = b; }
          td.appendChild(b);
          row.appendChild(td);
          day.setDate(day.getDate() + 1);
        }
        body.appendChild(row);
        if (day.getMonth() !== focus.getMonth() && week >= 4) { break; }
      }
      grid.appendChild(body);
      if (moveFocus && focusCell) { focusCell.focus(); }
    }

    function open() {
      focus = parse(input.value) || new Date();
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
      render(true);
    }
    function close(returnFocus) {
      if (panel.hidden) { return; }
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
      if (returnFocus) { input.focus(); }
    }
    function choose(d) {
      input.value = format(d);
      input.dispatchEvent(new Event("input", {bubbles: true}));
      input.dispatchEvent(new Event("change", {bubbles: true}));
      close(true);
    }
    function move(days, months) {
      var d = new Date(focus.getFullYear(), focus.getMonth() + months, 1);
      var last = new Date(d.getFullYear(), d.getMonth() + 1, 0).getDate();
      focus = new Date(d.getFullYear(), d.getMonth(), Math.min(focus.getDate(), last) + days);
      render(true);
    }

    button.addEventListener("click", function () { if (panel.hidden) { open(); } else { close(true); } });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && event.altKey) { event.preventDefault(); open(); }
    });
    prev.addEventListener("click", function () { move(0, -1); prev.focus(); });
    next.addEventListener("click", function () { move(0, 1); next.focus(); });
    prevYear.addEventListener("click", function () { move(0, -12); prevYear.focus(); });
    nextYear.addEventListener("click", function () { move(0, 12); nextYear.focus(); });
    todayButton.addEventListener("click", function () { choose(new Date()); });
    closeButton.addEventListener("click", function () { close(true); });
    grid.addEventListener("click", function (event) {
      var b = event.target.closest("button[data-date]");
      if (!b) { return; }
      var p = b.getAttribute("data-date").split("-");
      choose(new Date(+p[0], +p[1] - 1, +p[2]));
    });
    grid.addEventListener("keydown", function (event) {
      var keys = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [-7, 0], ArrowDown: [7, 0]};
      if (keys[event.key]) {
        move(keys[event.key][0], 0);
      } else if (event.key === "PageUp" || event.key === "PageDown") {
        move(0, (event.key === "PageUp" ? -1 : 1) * (event.shiftKey ? 12 : 1));
      } else if (event.key === "Home") {
        move(-focus.getDay(), 0);
      } else if (event.key === "End") {
        move(6 - focus.getDay(), 0);
      } else if (event.key === "Enter" || event.key === " ") {
        choose(focus);
      } else {
        return;
      }
      event.preventDefault();
    });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(true); }
    });
    document.addEventListener("click", function (event) {
      if (!wrap.contains(event.target)) { close(false); }
    });
    wrap.addEventListener("focusout", function (event) {
      if (event.relatedTarget && !wrap.contains(event.relatedTarget)) { close(false); }
    });
  }

  function setUp() {
    var css = script && script.getAttribute("data-css");
    if (css && !document.querySelector('link[href="' + css + '"]')) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = css;
      document.head.appendChild(link);
    }
    Array.prototype.forEach.call(document.querySelectorAll("input[data-thai-date]"), attach);
  }
  document.addEventListener("formset:added", function (event) {
    Array.prototype.forEach.call(event.target.querySelectorAll("input[data-thai-date]"), attach);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
