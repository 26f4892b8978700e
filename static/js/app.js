/* Dealbridge progressive enhancements. Every page works without this file (CSP: script-src 'self',
   no inline handlers); htmx adds the live availability check. */
(function () {
  "use strict";

  // Confirm destructive actions: <form data-confirm="..."> or <button data-confirm="...">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // Review queue: "select all clear" checkbox.
    var selectAll = document.querySelector("[data-select-all]");
    if (selectAll) {
      selectAll.addEventListener("change", function () {
        document.querySelectorAll("[data-bulk-item]").forEach(function (box) {
          box.checked = selectAll.checked;
        });
      });
    }

    // API token: copy the new key.
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var input = document.querySelector(button.getAttribute("data-copy"));
        if (!input) return;
        input.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, function () {});
        else { document.execCommand("copy"); done(); }
      });
    });

    // Close form: the lost reason only matters for a lost deal.
    var closeForm = document.querySelector("[data-close-form]");
    if (closeForm) {
      var outcome = closeForm.querySelector("[name=outcome]");
      var lost = closeForm.querySelector("[name=lost_reason]");
      var sync = function () {
        if (lost) lost.closest(".field").hidden = outcome.value !== "lost";
      };
      if (outcome) { outcome.addEventListener("change", sync); sync(); }
    }

    // Registration form: move focus to the error summary so screen readers announce it.
    var errors = document.getElementById("form-errors");
    if (errors) errors.focus();

    // Dismiss the user menu with Escape.
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      document.querySelectorAll("details.usermenu[open]").forEach(function (menu) {
        menu.removeAttribute("open");
        var summary = menu.querySelector("summary");
        if (summary) summary.focus();
      });
    });
  });
})();
