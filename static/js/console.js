/* Small enhancements; every page works without this file (no inline scripts: strict CSP). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Sign-in: show only the fields of the chosen method.
  function syncMethodPanels(root) {
    var checked = root.querySelector('input[name="method"]:checked');
    if (!checked) return;
    root.querySelectorAll(".method-panel").forEach(function (panel) {
      panel.hidden = panel.dataset.method !== checked.value;
    });
  }

  // Copy buttons: <button class="copy-button" data-copy="text" hidden>.
  function enableCopyButtons(root) {
    root.querySelectorAll(".copy-button[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.dataset.copy).then(function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        });
      });
    });
  }

  function enhance(root) {
    var signin = root.querySelector ? root.querySelector("#signin-form") : null;
    if (signin) {
      syncMethodPanels(signin);
      signin.addEventListener("change", function () { syncMethodPanels(signin); });
    }
    enableCopyButtons(root);
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (event) { enhance(event.target); });
})();

// Backup actions (create, restore, delete): progressive enhancements only; every form posts
// and re-renders without them.
(function () {
  "use strict";

  // Create: a submit button marked data-submit-once is disabled while its POST is in flight
  // (the server's one-time token is what really prevents a second backup).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || !button.hasAttribute("data-submit-once")) return;
    if (event.target.hasAttribute("hx-post")) return; // htmx forms use hx-disabled-elt
    // After the browser has read the form (a disabled button would not be sent).
    setTimeout(function () {
      if (event.defaultPrevented) return;
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }, 0);
  });
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("[data-submit-once][aria-busy]").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  });

  // Create: Enter in the volume search searches in place instead of submitting the form.
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key !== "Enter" || !input.matches || !input.matches("[data-picker-search]")) return;
    if (!window.htmx) return;
    event.preventDefault();
    input.dispatchEvent(new Event("search"));
  });

  // Create: a new volume's options bring a new suggested name; use it unless one was typed.
  function syncSuggestedName(root) {
    if (!root.querySelector) return;
    var options = root.id === "volume-options" ? root : root.querySelector("#volume-options");
    var name = document.getElementById("id_name");
    if (!options || !name) return;
    var hidden = options.querySelector('input[name="name_suggested"]');
    if (!hidden) return;
    var previous = name.getAttribute("data-suggested") || "";
    if (hidden.value && (name.value === "" || name.value === previous)) {
      name.value = hidden.value;
    }
    name.setAttribute("data-suggested", hidden.value);
  }

  // Restore: show the field of the chosen target only ("A new volume" / "An existing volume").
  function syncRestoreTarget(root) {
    var form = root.querySelector ? root.querySelector("#backup-restore-form") : null;
    if (!form) return;
    function sync() {
      var checked = form.querySelector('input[name="target"]:checked');
      form.querySelectorAll(".restore-target").forEach(function (panel) {
        panel.hidden = !!checked && panel.dataset.target !== checked.value;
      });
      // The existing volume is required once "An existing volume" is chosen (and only then).
      var existing = !!checked && checked.value === "existing";
      var select = form.querySelector('select[name="volume"]');
      if (select) select.required = existing;
      form.querySelectorAll("[data-required-note]").forEach(function (note) {
        note.textContent = existing ? "(required)" : "(required for an existing volume)";
      });
    }
    sync();
    form.addEventListener("change", sync);
  }

  document.addEventListener("DOMContentLoaded", function () { syncRestoreTarget(document); });
  document.addEventListener("htmx:load", function (event) {
    syncSuggestedName(event.target);
    syncRestoreTarget(event.target);
  });
})();

// Alerts of failed reads: once ByCloud answers a poll or a fragment again (the server says so
// with the "api-answered" event, HX-Trigger), the "cannot be reached" alert of an earlier
// failed read is stale and goes. Alerts about a change (a POST) stay. Without JavaScript there
// is no such alert: a full page shows the current state.
(function () {
  "use strict";
  document.addEventListener("api-answered", function () {
    document.querySelectorAll("#alerts [data-failed-read]").forEach(function (alert) {
      alert.remove();
    });
  });
})();

// Read-only learnt at once: a change ByCloud refused (403) answers an htmx request with the
// "console-read-only" event (HX-Trigger-After-Settle, console/middleware.py); every change
// control of the page goes off and the header says "read-only". Without JavaScript the refused
// change re-renders the whole page read-only.
(function () {
  "use strict";
  document.addEventListener("console-read-only", function () {
    document.querySelectorAll("[data-change-control]").forEach(function (control) {
      if (control.matches("button, input, select, textarea")) {
        control.disabled = true;
      } else {
        control.hidden = true;
      }
    });
    var info = document.querySelector(".session-info");
    if (info && !info.querySelector(".badge--read-only")) {
      var badge = document.createElement("span");
      badge.className = "badge badge--read-only";
      badge.textContent = "read-only";
      var signout = info.querySelector("form");
      info.insertBefore(badge, signout);
    }
  });
})();

// Exact times in the reader's own time zone: beside a <time datetime=… data-local-time> that the
// server wrote in UTC, the same moment in the browser's zone ("· 13:00:00 local, Europe/Paris").
// Without JavaScript the page shows UTC only, and says so.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function showLocalTimes(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("time[data-local-time]").forEach(function (time) {
      if (time.dataset.localShown) return;
      var moment = new Date(time.getAttribute("datetime"));
      if (isNaN(moment.getTime())) return;
      time.dataset.localShown = "1";
      var zone = "";
      try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
      var local = document.createElement("span");
      local.className = "local-time muted";
      local.textContent = " · " + moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" +
        pad(moment.getDate()) + " " + pad(moment.getHours()) + ":" + pad(moment.getMinutes()) + ":" +
        pad(moment.getSeconds()) + " local" + (zone ? " (" + zone + ")" : "");
      time.insertAdjacentElement("afterend", local);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { showLocalTimes(document); });
  document.addEventListener("htmx:load", function (event) { showLocalTimes(event.target); });
})();
