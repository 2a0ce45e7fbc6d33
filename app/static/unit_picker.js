/* The unit picker of the life-event forms (app/templates/events/form.html, macro unit_picker).
 *
 * Without this script the picker is a list of the county's villages and a box for a unit
 * code. With it, the code box gives way to a drill-down over the whole tree: a button opens
 * the top of the tree, each unit opens the units under it (asked one level at a time from
 * data-url, app.web.events.unit_children), and "Choose" puts the unit into the list,
 * named by its place in the tree, and selects it: the list stays the one field the form
 * sends. data-levels limits the levels that may be chosen (a transfer: a village or a
 * group); data-skip names a unit not offered (a transfer's own village). If the tree cannot
 * be loaded, the code box comes back. Plain ES2017, no build step.
 */
(function () {
  "use strict";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setUp(root) {
    var select = root.querySelector("select");
    var typedBox = root.querySelector("[data-unit-typed]");
    var typed = typedBox.querySelector("input");
    var text = function (key) { return root.getAttribute("data-text-" + key) || ""; };
    var levels = (root.getAttribute("data-levels") || "").split(" ").filter(Boolean);
    var skip = root.getAttribute("data-skip") || "";
    var url = root.getAttribute("data-url");
    var trail = [];  // the units opened, from the top down: [{code, name}]
    var asked = 0;  // the latest request: an answer to an earlier one is dropped

    var toggle = el("button", { type: "button", "class": "button small-button unit-toggle",
                                "aria-expanded": "false", "data-testid": "unit-browse" }, text("browse"));
    var panel = el("div", { "class": "unit-browser", "data-testid": "unit-browser", hidden: "" });
    var crumbs = el("nav", { "class": "unit-trail", "data-testid": "unit-trail" });
    var status = el("p", { "class": "small muted unit-status", role: "status" });
    var list = el("ul", { "class": "unit-list" });
    panel.appendChild(crumbs);
    panel.appendChild(status);
    panel.appendChild(list);
    select.insertAdjacentElement("afterend", toggle);
    toggle.insertAdjacentElement("afterend", panel);

    // The code box is the fallback: hidden while the tree works, unless a code is in it.
    function showTyped(show) {
      typedBox.hidden = !show;
      typed.disabled = !show;
    }
    showTyped(Boolean(typed.value));

    function choosable(unit) {
      return unit.code !== skip && (!levels.length || levels.indexOf(unit.level) >= 0);
    }

    function drawTrail() {
      crumbs.textContent = "";
      var steps = [{ code: "", name: text("top") }].concat(trail);
      steps.forEach(function (step, i) {
        if (i) crumbs.appendChild(el("span", { "aria-hidden": "true" }, " › "));
        if (i === steps.length - 1) {
          crumbs.appendChild(el("strong", {}, step.name));
        } else {
          var up = el("button", { type: "button", "class": "link" }, step.name);
          up.addEventListener("click", function () { open(steps.slice(1, i + 1)); });
          crumbs.appendChild(up);
        }
      });
    }

    function choose(unit) {
      var label = trail.map(function (u) { return u.name; }).concat([unit.name]).join(" › ");
      var option = Array.prototype.find.call(select.options, function (o) { return o.value === unit.code; });
      if (!option) {
        option = el("option", { value: unit.code }, label);
        select.options[0].insertAdjacentElement("afterend", option);  // after "Choose", before the villages
      }
      option.selected = true;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      close();
      select.focus();
    }

    function drawChildren(children) {
      list.textContent = "";
      children.forEach(function (unit) {
        if (unit.code === skip) return;
        var canOpen = unit.has_children;
        var canChoose = choosable(unit);
        if (!canOpen && !canChoose) return;
        var row = el("li", { "data-testid": "unit", "data-code": unit.code, "data-level": unit.level });
        if (canOpen) {
          var down = el("button", { type: "button", "class": "unit-open", "data-testid": "unit-open" }, unit.name + " ›");
          down.addEventListener("click", function () { open(trail.concat([{ code: unit.code, name: unit.name }])); });
          row.appendChild(down);
        } else {
          row.appendChild(el("span", { "class": "unit-name" }, unit.name));
        }
        if (canChoose) {
          var pick = el("button", { type: "button", "class": "small-button unit-choose", "data-testid": "unit-choose",
                                    "aria-label": text("choose") + " " + unit.name }, text("choose"));
          pick.addEventListener("click", function () { choose(unit); });
          row.appendChild(pick);
        }
        list.appendChild(row);
      });
      status.textContent = list.children.length ? "" : text("empty");
    }

    function open(path) {
      var code = path.length ? path[path.length - 1].code : "";
      var mine = ++asked;
      status.textContent = text("loading");
      list.textContent = "";
      fetch(url + (code ? "?code=" + encodeURIComponent(code) : ""),
            { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok || (response.headers.get("Content-Type") || "").indexOf("json") < 0) {
            throw new Error("units: " + response.status);
          }
          return response.json();
        })
        .then(function (answer) {
          if (mine !== asked) return;
          trail = path;
          drawTrail();
          drawChildren(answer.children || []);
        })
        .catch(function () {
          if (mine !== asked) return;
          status.textContent = text("failed");
          showTyped(true);
        });
    }

    function close() {
      panel.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      toggle.textContent = text("browse");
    }

    toggle.addEventListener("click", function () {
      if (!panel.hidden) { close(); return; }
      panel.hidden = false;
      toggle.setAttribute("aria-expanded", "true");
      toggle.textContent = text("close");
      open(trail);
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-unit-picker]"), setUp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
