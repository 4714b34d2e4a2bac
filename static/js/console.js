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
