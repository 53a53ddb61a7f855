/* The admin's own script: partial page updates (htmx, shipped with unfold), the filter builder
   and column chooser, keyboard shortcuts, and the viewer's time zone for the server.
   No inline code: the admin's Content-Security-Policy allows scripts from this site only. */
(function () {
  "use strict";

  // --- the viewer's time zone: the server renders and reads times in it ----------------------
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // IANA names are letters, digits, "/", "_", "+" and "-": no encoding needed in a cookie
    if (zone && /^[A-Za-z0-9_+\/-]+$/.test(zone) && document.cookie.indexOf("ajo_tz=" + zone) === -1) {
      document.cookie = "ajo_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: times stay in UTC, as the page says */ }

  var RESULTS = "#ajo-results";

  if (window.htmx) {
    // Pages come from the server on back/forward (no copy of a big page in localStorage), and a
    // 400 (a condition that does not parse) is swapped in: it carries the message.
    htmx.config.historyCacheSize = 0;
    htmx.config.defaultSettleDelay = 0;  // new links are live at once (keyboard paging)
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "400", swap: true, error: false },
      { code: "[45]..", swap: false, error: true }
    ];
  }

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $$(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  // Forms of the list page that read it again (search, unfold's filters) update the results only.
  function wireForms() {
    if (!window.htmx || !$(RESULTS)) return;
    ["#changelist-search", "#filter-form"].forEach(function (selector) {
      var form = $(selector);
      if (!form || form.getAttribute("hx-get")) return;
      form.setAttribute("hx-get", window.location.pathname);
      form.setAttribute("hx-target", RESULTS);
      form.setAttribute("hx-swap", "outerHTML");
      form.setAttribute("hx-push-url", "true");
      htmx.process(form);
    });
  }

  // --- the filter builder ----------------------------------------------------------------------
  var spec = null;
  function filterSpec() {
    if (spec === null) {
      var node = $("#ajo-filter-spec");
      spec = node ? JSON.parse(node.textContent) : {};
    }
    return spec;
  }
  var PLACEHOLDER = {
    int: "a whole number", uint256: "exact integer, raw units", datetime: "YYYY-MM-DD HH:MM",
    text: "text", address: "0x… (any case)", hex: "0x…", bool: "true or false",
    choice: "a value", ip: "an IP address"
  };

  function updateCondition(row, keepOperator) {
    var column = $("[data-role=column]", row).value;
    var info = filterSpec()[column];
    var opSelect = $("[data-role=op]", row);
    var current = keepOperator ? (opSelect.value || opSelect.dataset.current) : opSelect.value;
    if (info) {
      $$("option", opSelect).forEach(function (option) {
        option.hidden = info.operators.indexOf(option.value) === -1;
        option.disabled = option.hidden;
      });
      if (info.operators.indexOf(current) === -1) current = info.operators[0];
      opSelect.value = current;
    }
    var op = opSelect.value;
    var noValue = op === "null" || op === "notnull";
    var between = op === "between";
    var kind = info ? info.kind : "text";
    var v1 = $("[data-role=v1]", row), v2 = $("[data-role=v2]", row);
    v1.hidden = noValue;
    v2.hidden = !between;
    $("[data-role=and]", row).hidden = !between;
    [v1, v2].forEach(function (input) {
      input.placeholder = op === "in" ? "values, separated by commas" : (PLACEHOLDER[kind] || "");
      if (info && info.choices && info.choices.length) {
        input.setAttribute("list", "ajo-choices-" + column);
        ensureDatalist(column, info.choices);
      } else {
        input.removeAttribute("list");
      }
    });
  }

  function ensureDatalist(column, choices) {
    var id = "ajo-choices-" + column;
    if (document.getElementById(id)) return;
    var list = document.createElement("datalist");
    list.id = id;
    choices.forEach(function (choice) {
      var option = document.createElement("option");
      option.value = choice[0];
      option.label = choice[1];
      list.appendChild(option);
    });
    document.body.appendChild(list);
  }

  function newCondition() {
    var template = $("#ajo-condition-template");
    var row = template.content.firstElementChild.cloneNode(true);
    updateCondition(row, false);
    return row;
  }

  function builderParams(form) {
    var params = [];
    var groups = $$(".ajo-group", form);
    var used = 0;
    groups.forEach(function (group) {
      var rows = $$(".ajo-cond", group).filter(function (row) { return $("[data-role=column]", row).value; });
      if (!rows.length) return;
      used += 1;
      rows.forEach(function (row) {
        var op = $("[data-role=op]", row).value;
        var value = "";
        if (op === "between") value = $("[data-role=v1]", row).value + ".." + $("[data-role=v2]", row).value;
        else if (op !== "null" && op !== "notnull") value = $("[data-role=v1]", row).value;
        params.push(["f" + used, $("[data-role=column]", row).value + ":" + op + ":" + value]);
      });
      var join = $("[data-role=group-join]", group).value;
      if (join === "or") params.push(["fj" + used, "or"]);
    });
    var top = $("[data-role=join]", form);
    if (used > 1 && top && top.value === "or") params.push(["fj", "or"]);
    return params;
  }

  function columnsParams(form) {
    var names = $$("li", form).filter(function (li) { return $("input", li).checked; })
      .map(function (li) { return li.dataset.name; });
    var params = [["cols", names.join(",")]];
    // keep the sort on its column: ?o= counts columns as shown
    var sort = form.dataset.sort;
    var index = names.indexOf(sort);
    if (sort && index !== -1) {
      params.push(["o", (form.dataset.sortDesc ? "-" : "") + (index + Number(form.dataset.offset || 0))]);
    }
    return params;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    var extra = null;
    if (form.id === "ajo-builder") extra = builderParams(form);
    if (form.id === "ajo-columns") extra = columnsParams(form);
    if (!extra) return;
    extra.forEach(function (pair) { event.detail.parameters.append(pair[0], pair[1]); });
  });

  document.addEventListener("change", function (event) {
    var row = event.target.closest(".ajo-cond");
    if (row && (event.target.dataset.role === "column" || event.target.dataset.role === "op")) {
      updateCondition(row, event.target.dataset.role === "op");
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var action = button.dataset.action;
    if (action === "add-condition") {
      button.parentNode.insertBefore(newCondition(), button);
    } else if (action === "remove-condition") {
      var group = button.closest(".ajo-group");
      button.closest(".ajo-cond").remove();
      if (!$(".ajo-cond", group)) group.insertBefore(newCondition(), $("[data-action=add-condition]", group));
    } else if (action === "add-group") {
      var groups = $(".ajo-groups");
      var copy = $(".ajo-group", groups).cloneNode(true);
      $$(".ajo-cond", copy).forEach(function (row) { row.remove(); });
      copy.insertBefore(newCondition(), $("[data-action=add-condition]", copy));
      groups.appendChild(copy);
    } else if (action === "remove-group") {
      button.closest(".ajo-group").remove();
    } else if (action === "up" || action === "down") {
      var item = button.closest("li");
      if (action === "up" && item.previousElementSibling) item.parentNode.insertBefore(item, item.previousElementSibling);
      if (action === "down" && item.nextElementSibling) item.parentNode.insertBefore(item.nextElementSibling, item);
    } else {
      return;
    }
    event.preventDefault();
  });

  // --- copy buttons (ajo/admin/display.py) -----------------------------------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".ajo-copy");
    if (!button) return;
    event.preventDefault();
    if (navigator.clipboard) navigator.clipboard.writeText(button.dataset.copy);
    var icon = button.firstElementChild;
    icon.textContent = "check";
    setTimeout(function () { icon.textContent = "content_copy"; }, 900);
  });

  // --- the SQL console: a history entry goes back into the editor ------------------------------
  document.addEventListener("click", function (event) {
    var entry = event.target.closest("[data-sql]");
    if (!entry) return;
    var editor = $("#ajo-sql");
    if (editor) { editor.value = entry.dataset.sql; editor.focus(); }
  });

  // --- keyboard ----------------------------------------------------------------------------------
  var cursor = -1;
  function rows() { return $$("#result_list tbody tr"); }
  function moveCursor(step) {
    var all = rows();
    if (!all.length) return;
    cursor = Math.max(0, Math.min(all.length - 1, cursor + step));
    all.forEach(function (row, index) { row.classList.toggle("ajo-cursor", index === cursor); });
    all[cursor].scrollIntoView({ block: "nearest" });
  }
  function help() {
    var box = $("#ajo-help");
    if (!box) {
      box = document.createElement("div");
      box.id = "ajo-help";
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-label", "Keyboard shortcuts");
      box.innerHTML = '<div class="ajo-help-box"><h2>Keyboard shortcuts</h2><dl>' +
        "<dt><kbd>/</kbd></dt><dd>search</dd>" +
        "<dt><kbd>j</kbd> <kbd>k</kbd></dt><dd>next / previous row</dd>" +
        "<dt><kbd>Enter</kbd></dt><dd>open the row</dd>" +
        "<dt><kbd>[</kbd> <kbd>]</kbd></dt><dd>previous / next page</dd>" +
        "<dt><kbd>?</kbd></dt><dd>this help</dd>" +
        "<dt><kbd>Esc</kbd></dt><dd>close</dd></dl></div>";
      box.addEventListener("click", function (event) { if (event.target === box) box.hidden = true; });
      document.body.appendChild(box);
      return;
    }
    box.hidden = !box.hidden;
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
    var helpBox = $("#ajo-help");
    if (event.key === "Escape") {
      if (helpBox && !helpBox.hidden) { helpBox.hidden = true; event.preventDefault(); }
      else if (typing) target.blur();
      return;
    }
    if (typing) return;
    if (event.key === "?") { help(); event.preventDefault(); return; }
    if (!$(RESULTS)) return;
    var link = null;
    switch (event.key) {
      case "/":
        var search = $("#searchbar");
        if (search) { search.focus(); search.select(); event.preventDefault(); event.stopImmediatePropagation(); }
        return;
      case "j": moveCursor(1); break;
      case "k": moveCursor(-1); break;
      case "Enter":
        var row = rows()[cursor];
        if (row && row.dataset.href) window.location.href = row.dataset.href;
        else return;
        break;
      case "[": link = $("#ajo-prev"); break;
      case "]": link = $("#ajo-next"); break;
      default: return;
    }
    if (link) {
      if (window.htmx) htmx.process(link.closest("[hx-boost]") || link);
      link.click();
    }
    event.preventDefault();
  }, true);

  function ready() {
    wireForms();
    $$(".ajo-cond").forEach(function (row) { updateCondition(row, true); });
  }
  document.addEventListener("DOMContentLoaded", ready);
  document.addEventListener("htmx:afterSettle", function () {
    spec = null;
    if (cursor >= 0) { cursor = -1; moveCursor(1); }
    ready();
  });
})();
