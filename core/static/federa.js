/* Federa admin UI behaviour — small, no framework. Everything here is progressive enhancement:
   pages work without it.

   - div.progress[data-job-url]: polls the URL (JSON {status, percent, message}) every second until the job is
     done/failed/skipped; updates the bar width, a label and data-status; when done it follows data-done-url or
     reloads the page (set data-reload="false" to stay).
   - [data-confirm="Question?"] on a button, link or form: asks before submitting/following.
   - input[data-select-all]: toggles every input[name=ids] of the same form (bulk-action tables).
   - select[data-autosubmit]: submits its form on change (the organisation switcher).
   - [data-nav-toggle]: opens/closes the sidebar on phones.
*/
(function () {
  "use strict";

  var FINISHED = { done: true, failed: true, skipped: true };
  // Job status names come translated from the page (base.html, #federa-i18n) so they are in the catalogue.
  var statusText = {};
  try {
    var i18n = document.getElementById("federa-i18n");
    statusText = i18n ? JSON.parse(i18n.textContent).job_status || {} : {};
  } catch (e) { statusText = {}; }

  /* ---- progress bars ---- */
  function progressLabel(el) {
    var label = el.querySelector(".progress-label");
    if (!label) {
      label = document.createElement("div");
      label.className = "progress-label";
      label.setAttribute("aria-live", "polite");
      label.innerHTML = '<span class="progress-status"></span><span class="progress-message"></span>';
      el.appendChild(label);
    }
    return label;
  }

  function renderProgress(el, data) {
    var percent = Math.max(0, Math.min(100, Number(data.percent) || 0));
    var bar = el.querySelector(".progress-bar");
    if (!bar) {
      bar = document.createElement("div");
      bar.className = "progress-bar";
      el.insertBefore(bar, el.firstChild);
    }
    bar.style.width = percent + "%";
    el.setAttribute("role", "progressbar");
    el.setAttribute("aria-valuemin", "0");
    el.setAttribute("aria-valuemax", "100");
    el.setAttribute("aria-valuenow", String(percent));
    el.dataset.status = data.status || "";
    var label = progressLabel(el);
    label.querySelector(".progress-status").textContent =
      (statusText[data.status] || data.status || "") + " · " + percent + "%";
    label.querySelector(".progress-message").textContent = data.message || "";
  }

  function pollProgress(el) {
    var url = el.dataset.jobUrl;
    var failures = 0;
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          renderProgress(el, data);
          if (FINISHED[data.status]) {
            if (data.status === "done" && el.dataset.reload !== "false") {
              setTimeout(function () {
                if (el.dataset.doneUrl) { window.location.assign(el.dataset.doneUrl); }
                else { window.location.reload(); }
              }, 600);
            }
            return;
          }
          setTimeout(tick, 1000);
        })
        .catch(function () {
          failures += 1;  // a flaky network should not stop the bar for good; back off a little
          if (failures < 30) { setTimeout(tick, 1000 * Math.min(failures, 5)); }
        });
    }
    tick();
  }

  /* ---- confirmations ---- */
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (!target || target.tagName === "FORM") { return; }
    if (!window.confirm(target.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    // A button's data-confirm was asked on click; a form's own data-confirm is asked here.
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  /* ---- select all ---- */
  function boxesOf(master) {
    var scope = master.form || master.closest("table") || document;
    return Array.prototype.filter.call(scope.querySelectorAll('input[type=checkbox][name="ids"]'), function (box) {
      return box !== master && (!master.form || box.form === master.form);
    });
  }

  function syncRow(box) {
    var row = box.closest("tr");
    if (row) { row.classList.toggle("selected", box.checked); }
  }

  function syncMaster(master) {
    var boxes = boxesOf(master);
    var checked = boxes.filter(function (b) { return b.checked; }).length;
    master.checked = boxes.length > 0 && checked === boxes.length;
    master.indeterminate = checked > 0 && checked < boxes.length;
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("input[data-select-all]")) {
      boxesOf(el).forEach(function (box) { box.checked = el.checked; syncRow(box); });
      return;
    }
    if (el.matches('input[type=checkbox][name="ids"]')) {
      syncRow(el);
      document.querySelectorAll("input[data-select-all]").forEach(function (master) {
        if (!master.form || master.form === el.form) { syncMaster(master); }
      });
      return;
    }
    if (el.matches("select[data-autosubmit]") && el.form && el.value !== "") {
      el.form.submit();
    }
  });

  /* ---- sidebar on phones ---- */
  function setNav(open) {
    document.body.classList.toggle("nav-open", open);
    document.querySelectorAll("[data-nav-toggle]").forEach(function (el) {
      if (el.tagName === "BUTTON") { el.setAttribute("aria-expanded", open ? "true" : "false"); }
      if (el.classList.contains("nav-backdrop")) { el.hidden = !open; }
    });
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-nav-toggle]")) {
      setNav(!document.body.classList.contains("nav-open"));
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    if (document.body.classList.contains("nav-open")) { setNav(false); }
    document.querySelectorAll("details.user-menu[open]").forEach(function (d) { d.open = false; });
  });

  // Close the user menu when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (d) {
      if (!d.contains(event.target)) { d.open = false; }
    });
  });

  function init() {
    document.querySelectorAll("div.progress[data-job-url]").forEach(pollProgress);
    document.querySelectorAll("input[data-select-all]").forEach(syncMaster);
    document.querySelectorAll('input[type=checkbox][name="ids"]:checked').forEach(syncRow);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
})();
