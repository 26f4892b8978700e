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

    // Registration form: the live availability check. It checks when typing pauses (600 ms)
    // and when a field is left, never sends the same input twice, aborts a check in flight when
    // a newer one starts, and after a 429 waits for Retry-After (the panel says when).
    var live = document.querySelector("[data-live-check]");
    if (live && window.fetch && window.AbortController && window.FormData) liveCheck(live);

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

  var LIVE_CHECK_PAUSE_MS = 600;

  function liveCheck(fields) {
    var form = fields.closest("form");
    var url = fields.getAttribute("data-live-check");
    var panel = document.querySelector(fields.getAttribute("data-live-check-target"));
    if (!form || !url || !panel) return;
    var timer = null;
    var inFlight = null;
    var lastSent = null;
    var pausedUntil = 0;

    function snapshot() {
      var data = new FormData(form);
      data.delete("intent");
      var parts = [];
      data.forEach(function (value, name) {
        if (name !== "csrfmiddlewaretoken") parts.push(name + "=" + value);
      });
      return { data: data, key: parts.join("&"), name: (data.get("customer_name") || "").trim() };
    }

    function send() {
      timer = null;
      if (Date.now() < pausedUntil) return;
      var input = snapshot();
      if (input.name.length < 2 || input.key === lastSent) return;
      lastSent = input.key;
      if (inFlight) inFlight.abort();
      var controller = new AbortController();
      inFlight = controller;
      fetch(url, {
        method: "POST",
        body: input.data,
        credentials: "same-origin",
        signal: controller.signal,
        headers: { "X-Requested-With": "fetch" }
      }).then(function (response) {
        var wait = parseInt(response.headers.get("Retry-After") || "", 10);
        if (response.status === 429 && wait > 0) {
          pausedUntil = Date.now() + wait * 1000;
          lastSent = null; // the same input may be checked once the pause is over
        }
        if (!response.ok && response.status !== 429) throw new Error("HTTP " + response.status);
        return response.text();
      }).then(function (html) {
        if (inFlight !== controller) return; // a newer check owns the panel
        inFlight = null;
        panel.innerHTML = html;
      }).catch(function (error) {
        if (inFlight === controller) inFlight = null;
        if (!error || error.name !== "AbortError") lastSent = null;
      });
    }

    function schedule(delay) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(send, delay);
    }

    fields.addEventListener("input", function (event) {
      // A select's choice is complete at once; typed text waits for a pause.
      schedule(event.target.tagName === "SELECT" ? 0 : LIVE_CHECK_PAUSE_MS);
    });
    fields.addEventListener("focusout", function () { schedule(0); });
    document.querySelectorAll("[data-live-check-also]").forEach(function (group) {
      group.addEventListener("change", function () { schedule(0); });
    });
    if (fields.hasAttribute("data-live-check-load")) schedule(0);
  }
})();
