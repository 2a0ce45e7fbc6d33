/* The household form on a phone (app/templates/collect/form.html).
 *
 * The page is a complete HTML form without this script. With it:
 * - one section at a time: the household part, each member as a card, then a summary, with
 *   a row of steps above and Back / Save draft / Next below;
 * - relevance applied live, from the definition's conditions (FormDefinition.as_json());
 * - a text filter above long code lists (ethnicity, relationship, education);
 * - ID numbers checked as typed (GB 11643); a valid number fills the date of birth and sex
 *   when they are empty, and a mismatch is flagged when they were typed already;
 * - "add member" adds a card here instead of asking the server.
 *
 * The first block ports collection_forms/conditions.py, schema.settle_relevance and
 * id_number.parse_id_number; keep them in step with the Python (tests/browser/
 * test_collect_browser.py runs both on the same cases). Plain ES2017, no build step.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------ ports of collection_forms

  // conditions.MARRIED: 20 married and its sub-codes 21 初婚, 22 再婚, 23 复婚.
  var MARRIED = ["20", "21", "22", "23"];
  var ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
  var EARLIEST = "1900-01-01";

  function isLeap(y) { return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0; }

  function validDate(y, m, d) {
    if (y < 1 || m < 1 || m > 12 || d < 1) return false;
    var days = [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
    return d <= days;
  }

  function pad(n, width) { var s = String(n); while (s.length < width) s = "0" + s; return s; }

  /** conditions.as_date: {y, m, d} for an existing "YYYY-MM-DD" date, else null. */
  function asDate(value) {
    if (typeof value !== "string" || !ISO_DATE.test(value)) return null;
    var y = +value.slice(0, 4), m = +value.slice(5, 7), d = +value.slice(8, 10);
    return validDate(y, m, d) ? { y: y, m: m, d: d } : null;
  }

  /** conditions.age_on: completed years (born 29 February: a year older on 1 March). */
  function ageOn(birth, today) {
    var before = today.m < birth.m || (today.m === birth.m && today.d < birth.d);
    return today.y - birth.y - (before ? 1 : 0);
  }

  /** conditions.derived: what is computed from a member, never typed in. */
  function derived(member, today) {
    var birth = asDate(member.birth_date);
    var age = birth ? ageOn(birth, today) : null;
    var marriedWoman = member.sex === "2" && MARRIED.indexOf(member.marital_status) >= 0 &&
      age !== null && age >= 15 && age <= 49;
    return { age: age, married_woman_15_49: marriedWoman };
  }

  function present(values, name) {
    return Object.prototype.hasOwnProperty.call(values, name) && values[name] !== null && values[name] !== undefined;
  }

  /** conditions.evaluate: an empty field equals nothing, is in no list, and not_in is false for it. */
  function evaluate(cond, values, predicate) {
    if ("all" in cond) return cond.all.every(function (c) { return evaluate(c, values, predicate); });
    if ("any" in cond) return cond.any.some(function (c) { return evaluate(c, values, predicate); });
    if ("not" in cond) return !evaluate(cond.not, values, predicate);
    if ("derived" in cond) return predicate(cond.derived);
    var filled = present(values, cond.field);
    if ("filled" in cond) return filled === Boolean(cond.filled);
    if (!filled) return false;
    var value = values[cond.field];
    if ("equals" in cond) return value === cond.equals;
    if ("in" in cond) return cond.in.indexOf(value) >= 0;
    return cond.not_in.indexOf(value) < 0;
  }

  function nfkc(text) { return text.normalize ? text.normalize("NFKC") : text; }

  /** schema.convert as far as conditions need it: the value as stored, or the stripped text
   *  when it does not convert (validate.py keeps what was typed); null when empty. */
  function typed(field, raw) {
    if (raw === null || raw === undefined) return null;
    var text = String(raw);
    if (!text.trim()) return null;
    switch (field.type) {
      case "integer":
        var t = nfkc(text).trim();
        return /^[+-]?[0-9]+$/.test(t) ? parseInt(t, 10) : text.trim();
      case "id_number": return normaliseId(text);
      case "phone": return nfkc(text).trim();
      default: return text.trim();
    }
  }

  /** schema.settle_relevance: drop values of fields that do not apply and fill defaults, in
   *  relevance order (each condition reads final values). Returns the names not relevant. */
  function settleRelevance(values, fields, order, today) {
    var notRelevant = {};
    var computed = null;
    function predicate(name) {
      if (computed === null) computed = derived(values, today);
      return Boolean(computed[name]);
    }
    order.forEach(function (name) {
      var f = fields[name];
      if (f.relevant && !evaluate(f.relevant, values, predicate)) {
        delete values[name];
        notRelevant[name] = true;
      } else if (!present(values, name) && f.default !== undefined && f.default !== null) {
        values[name] = f.default;
      }
    });
    return notRelevant;
  }

  // id_number.py (GB 11643-1999, check character ISO 7064 MOD 11-2).
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK = "10X98765432";

  function normaliseId(value) { return nfkc(String(value)).trim().toUpperCase(); }

  function checkCharacter(number) {
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += (+number[i]) * WEIGHTS[i];
    return CHECK[sum % 11];
  }

  /** id_number.parse_id_number: {number, birth_date, sex} or {error, n | date}. */
  function parseIdNumber(value, todayIso) {
    var number = normaliseId(value);
    var length = Array.from(number).length;
    if (length !== 18) {
      if (length === 15 && /^[0-9]+$/.test(number)) return { error: "id_old" };
      return { error: "id_length", n: length };
    }
    if (!/^[0-9]{17}[0-9X]$/.test(number)) return { error: "id_format" };
    if (checkCharacter(number) !== number[17]) return { error: "id_checksum" };
    var y = +number.slice(6, 10), m = +number.slice(10, 12), d = +number.slice(12, 14);
    if (!validDate(y, m, d)) return { error: "id_date", date: number.slice(6, 14) };
    var birth = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2);
    if (birth > todayIso) return { error: "id_future", date: birth };
    if (birth < EARLIEST) return { error: "id_early", date: birth };
    return { number: number, birth_date: birth, sex: (+number[16]) % 2 ? "1" : "2" };
  }

  // characters.py: control (Cc), format (Cf), surrogate (Cs), line and paragraph separator
  // characters are refused in every value; a multi-line field keeps tab, LF and CR. (Without
  // Unicode property escapes, an old browser gets the ranges that matter most; the server
  // checks everything anyway.)
  var REFUSED = (function () {
    try { return new RegExp("^[\\p{Cc}\\p{Cf}\\p{Cs}\\p{Zl}\\p{Zp}]$", "u"); } catch (e) {
      return new RegExp("^(?:[\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u2028-\\u202e" +
                        "\\u2060-\\u2064\\u2066-\\u206f\\ufeff]|[\\ud800-\\udfff])$");
    }
  })();
  var MULTILINE_KEPT = "\t\n\r";
  // Python's str.strip(): what it strips (JavaScript's trim() also strips U+FEFF, which is refused).
  var PY_SPACE = "\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003" +
    "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

  function pyStrip(text) {
    var chars = Array.from(text), a = 0, b = chars.length;
    while (a < b && PY_SPACE.indexOf(chars[a]) >= 0) a++;
    while (b > a && PY_SPACE.indexOf(chars[b - 1]) >= 0) b--;
    return chars.slice(a, b);
  }

  /** characters.refused_characters: the distinct refused characters, in order. */
  function badCharacters(text, multiline) {
    var found = [];
    Array.from(String(text)).forEach(function (c) {
      if (multiline && MULTILINE_KEPT.indexOf(c) >= 0) return;
      if (REFUSED.test(c) && found.indexOf(c) < 0) found.push(c);
    });
    return found;
  }

  /** characters.code_points: "U+0000、U+202E". */
  function codePoints(chars) {
    return chars.map(function (c) {
      return "U+" + pad(c.codePointAt(0).toString(16).toUpperCase(), 4);
    }).join("、");
  }

  /** validate.value_problem: {rule: "field.length", limit, n} or {rule: "field.chars", chars}, or null. */
  function valueProblem(field, raw) {
    if (typeof raw !== "string") return null;
    var chars = pyStrip(raw);
    var limit = field.limit || 100;
    if (chars.length > limit) return { rule: "field.length", limit: limit, n: chars.length };
    var bad = badCharacters(chars.join(""), Boolean(field.multiline));
    return bad.length ? { rule: "field.chars", chars: codePoints(bad) } : null;
  }

  /** FormDefinition.max_members: the roster's limit for these (typed) household values. */
  function maxMembers(definition, household) {
    var section = definition.sections.filter(function (s) { return s.repeat; })[0];
    var rules = section.max_repeat_if || [];
    for (var i = 0; i < rules.length; i++) {
      if (evaluate(rules[i].when, household, function () { return false; })) return rules[i].max;
    }
    return section.max_repeat || 60;
  }

  function todayLocal() {
    var now = new Date();
    return { y: now.getFullYear(), m: now.getMonth() + 1, d: now.getDate() };
  }

  function isoOf(day) { return pad(day.y, 4) + "-" + pad(day.m, 2) + "-" + pad(day.d, 2); }

  window.DoorstepCollect = {
    asDate: asDate, ageOn: ageOn, derived: derived, evaluate: evaluate, typed: typed,
    settleRelevance: settleRelevance, parseIdNumber: parseIdNumber, checkCharacter: checkCharacter,
    badCharacters: badCharacters, codePoints: codePoints, valueProblem: valueProblem, maxMembers: maxMembers
  };

  // ------------------------------------------------------------ the form

  var form = document.getElementById("household-form");
  if (!form) return;
  var def = JSON.parse(document.getElementById("form-definition").textContent);
  var T = JSON.parse(document.getElementById("collect-i18n").textContent);
  var lang = document.documentElement.lang.indexOf("zh") === 0 ? "zh" : "en";
  var today = todayLocal();
  var todayIso = isoOf(today);

  var FIELDS = { household: {}, members: {} };
  def.sections.forEach(function (s) {
    s.fields.forEach(function (f) { FIELDS[s.data_key][f.name] = f; });
  });

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) { return key in values ? values[key] : all; });
  }
  function label(f) { return f.label[lang]; }
  function codeLabel(fieldName, code) {
    var f = FIELDS.members[fieldName];
    var option = (f && f.options || []).filter(function (o) { return o.code === code; })[0];
    return option ? option[lang] : code;
  }

  document.documentElement.classList.add("js");
  var membersBox = document.getElementById("members");
  var template = document.getElementById("member-template");
  var nav = form.querySelector(".steps");
  var bar = form.querySelector("[data-bar]");
  var current = 0;
  var dirty = false;
  var submitting = false;

  // A scope is the household part (key "household") or one member card (key "members").
  function scopeOf(el) {
    var card = el.closest(".member");
    return card ? { key: "members", root: card, prefix: "members-" + card.dataset.index + "-" }
      : { key: "household", root: form, prefix: "household-" };
  }
  function input(scope, name) { return form.elements.namedItem(scope.prefix + name); }
  function wrapper(scope, name) { return document.getElementById("f-" + scope.prefix + name); }

  function valuesOf(scope) {
    var values = {};
    Object.keys(FIELDS[scope.key]).forEach(function (name) {
      var el = input(scope, name);
      var value = el ? typed(FIELDS[scope.key][name], el.value) : null;
      if (value !== null) values[name] = value;
    });
    return values;
  }

  function applyRelevance(scope) {
    var values = valuesOf(scope);
    var hidden = settleRelevance(values, FIELDS[scope.key], def.relevance_order[scope.key], today);
    Object.keys(FIELDS[scope.key]).forEach(function (name) {
      var w = wrapper(scope, name);
      if (w) w.hidden = Boolean(hidden[name]);
    });
    var groups = scope.key === "members" ? scope.root.querySelectorAll(".group")
      : form.querySelectorAll(".step:not(.member) .group");
    groups.forEach(function (g) { g.hidden = !g.querySelector(".field:not([hidden])"); });
  }

  function cards() { return Array.prototype.slice.call(membersBox.querySelectorAll(".member")); }
  function allScopes() {
    return [scopeOf(form.querySelector("[data-step^='s-']"))].concat(cards().map(scopeOf));
  }

  // -------------------------------------------------- ID numbers

  function showCheck(w, text, isError) {
    var p = w.querySelector("[data-check]");
    p.textContent = text || "";
    p.hidden = !text;
    p.className = isError === false ? "field-warning" : "field-error";
    var el = w.querySelector("input");
    if (el) {
      if (text && isError !== false) el.setAttribute("aria-invalid", "true");
      else el.removeAttribute("aria-invalid");
    }
  }

  /** A refused value's message (too long, refused characters), or "". */
  function valueMessage(f, raw) {
    var problem = valueProblem(f, raw);
    if (!problem) return "";
    return problem.rule === "field.length"
      ? fmt(T.too_long, { label: label(f), limit: problem.limit, n: problem.n })
      : fmt(T.bad_chars, { label: label(f), chars: problem.chars });
  }

  function idProblem(f, result) {
    return fmt(T[result.error], { label: label(f), n: result.n, date: result.date });
  }

  /** Check one id_number field; for the member's own number, fill or compare birth date and sex. */
  function checkId(scope, name, final) {
    var f = FIELDS[scope.key][name], w = wrapper(scope, name), el = input(scope, name);
    if (!f || !w || !el) return;
    var raw = el.value;
    if (!raw.trim()) { showCheck(w, ""); return; }
    var result = parseIdNumber(raw, todayIso);
    if (result.error) {
      // While typing, only a complete number is judged; a short one waits for the field to be left.
      var judge = final || result.error !== "id_length" || result.n > 18;
      showCheck(w, judge ? idProblem(f, result) : "");
      return;
    }
    if (name !== "id_number" || scope.key !== "members") { showCheck(w, ""); return; }
    var birth = input(scope, "birth_date"), sex = input(scope, "sex");
    var filled = [], problems = [];
    if (birth) {
      if (!birth.value) { birth.value = result.birth_date; filled.push(label(FIELDS.members.birth_date)); }
      else if (birth.value.trim() !== result.birth_date) {
        problems.push(fmt(T.id_birth_mismatch, { label: label(f), number: result.birth_date, form: birth.value.trim() }));
      }
    }
    if (sex) {
      if (!sex.value) { sex.value = result.sex; filled.push(label(FIELDS.members.sex)); }
      else if ((sex.value === "1" || sex.value === "2") && sex.value !== result.sex) {
        problems.push(fmt(T.id_sex_mismatch, { label: label(f), number: codeLabel("sex", result.sex),
          form: codeLabel("sex", sex.value) }));
      }
    }
    if (problems.length) showCheck(w, problems.join(" "));
    else if (filled.length) showCheck(w, fmt(T.filled, { fields: filled.join(lang === "zh" ? "、" : ", ") }), false);
    else showCheck(w, "");
    if (filled.length) applyRelevance(scope);
  }

  // -------------------------------------------------- long code lists: a filter above the select

  function enhancePickers(root) {
    root.querySelectorAll("select[data-long]").forEach(function (select) {
      if (select.dataset.enhanced) return;
      select.dataset.enhanced = "1";
      var all = Array.prototype.map.call(select.options, function (o) {
        return { value: o.value, text: o.text, search: (o.value + " " + o.text).toLowerCase() };
      });
      var filter = document.createElement("input");
      filter.type = "search";
      filter.className = "picker-filter";
      filter.placeholder = T.filter;
      filter.setAttribute("aria-label", T.filter);
      filter.autocomplete = "off";
      filter.dataset.filterFor = select.id;
      var count = document.createElement("p");
      count.className = "picker-count";
      count.hidden = true;
      select.parentNode.insertBefore(filter, select);
      select.parentNode.insertBefore(count, select.nextSibling);
      filter.addEventListener("input", function () {
        var q = filter.value.trim().toLowerCase();
        var chosen = select.value;
        // Rebuilding the options (rather than hiding some) is what Android's picker respects.
        select.innerHTML = "";
        var matches = all.filter(function (o) {
          return o.value === "" || !q || o.search.indexOf(q) >= 0 || o.value === chosen;
        });
        matches.forEach(function (o) { select.add(new Option(o.text, o.value, false, o.value === chosen)); });
        var real = matches.filter(function (o) { return o.value && (o.search.indexOf(q) >= 0); });
        // The only match, or the one whose name is exactly what was typed (子 among 长子, 孙子 ...).
        var pick = real.length === 1 ? real[0]
          : real.filter(function (o) { return o.text.toLowerCase() === q || o.value === q; })[0];
        if (q && pick && select.value !== pick.value) {
          select.value = pick.value;
          select.dispatchEvent(new Event("change", { bubbles: true }));
        }
        count.hidden = !q;
        count.textContent = real.length ? fmt(T.matches, { n: real.length }) : T.no_match;
      });
      filter.addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });
    });
  }

  // -------------------------------------------------- members: names, spouse choices, adding

  function cardTitle(card) {
    var name = (card.querySelector("[data-field=name] input") || {}).value || "";
    return name.trim();
  }

  function refreshMembers() {
    var list = cards();
    list.forEach(function (card, i) {
      var title = card.querySelector("h2");
      title.firstChild.textContent = fmt(T.member, { n: i + 1 }) + " ";
      title.querySelector(".member-name").textContent = cardTitle(card);
    });
    // Spouse: a member of this household, chosen among the other cards (by person_id).
    form.querySelectorAll("select[data-member-ref]").forEach(function (select) {
      var own = select.closest(".member");
      var chosen = select.value;
      select.innerHTML = "";
      select.add(new Option(T.none, ""));
      list.forEach(function (card, i) {
        if (card === own) return;
        var pid = card.querySelector("input[name$='-person_id']").value;
        select.add(new Option(cardTitle(card) || fmt(T.member, { n: i + 1 }), pid, false, pid === chosen));
      });
      if (chosen && select.value !== chosen) select.add(new Option(chosen, chosen, false, true));
    });
  }

  function uuid4() {
    if (window.crypto && crypto.randomUUID) {
      try { return crypto.randomUUID(); } catch (e) { /* not a secure context: below */ }
    }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return pad(x.toString(16), 2); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function addMember() {
    var next = cards().reduce(function (m, c) { return Math.max(m, +c.dataset.index + 1); }, 0);
    var html = template.innerHTML.replace(/__i__/g, String(next)).replace(/__pid__/g, uuid4())
      .replace(/__n__/g, String(cards().length + 1));
    membersBox.insertAdjacentHTML("beforeend", html);
    var card = cards()[cards().length - 1];
    card.querySelectorAll("[data-remove-card]").forEach(function (b) { b.hidden = false; });
    enhancePickers(card);
    applyRelevance(scopeOf(card));
    refreshMembers();
    buildNav();
    show(steps().indexOf(card), true);
    dirty = true;
  }

  // -------------------------------------------------- steps

  function steps() { return Array.prototype.slice.call(form.querySelectorAll(".step")); }

  function stepHasError(step) {
    return Boolean(step.querySelector(".field:not([hidden]) .field-error:not([hidden]), " +
      ".member > [data-server].field-error:not([hidden])"));
  }

  function stepLabel(step, i) {
    if (step.classList.contains("member")) return cardTitle(step) || fmt(T.member, { n: cards().indexOf(step) + 1 });
    if (step.dataset.step === "summary") return T.summary;
    return step.querySelector("h2").textContent.trim();
  }

  /** The row of steps. Buttons are made again only when cards come or go; otherwise they are
   *  updated in place, so that a tap that blurs a field (and fires "change") still lands. */
  function buildNav() {
    var all = steps();
    var buttons = nav.querySelectorAll("button[data-step-index]");
    if (buttons.length !== all.length) {
      nav.innerHTML = "";
      all.forEach(function (step, i) {
        if (step.dataset.step === "summary") {
          var add = document.createElement("button");
          add.type = "button";
          add.className = "button add";
          add.textContent = "+ " + T.add_member;
          add.setAttribute("data-testid", "nav-add-member");
          add.setAttribute("data-add-member", "");
          nav.appendChild(add);
        }
        var b = document.createElement("button");
        b.type = "button";
        b.dataset.stepIndex = String(i);
        nav.appendChild(b);
      });
      buttons = nav.querySelectorAll("button[data-step-index]");
    }
    all.forEach(function (step, i) {
      var b = buttons[i], bad = stepHasError(step);
      b.className = "button" + (bad ? " bad" : "");
      b.title = bad ? T.has_errors : "";
      b.textContent = stepLabel(step, i);
      b.setAttribute("data-testid", "nav-" + step.dataset.step);
      if (i === current) b.setAttribute("aria-current", "step");
      else b.removeAttribute("aria-current");
    });
    nav.hidden = false;
  }

  function show(i, scroll) {
    var all = steps();
    current = Math.max(0, Math.min(i, all.length - 1));
    all.forEach(function (step, j) { step.classList.toggle("current", j === current); });
    bar.querySelector("[data-prev]").disabled = current === 0;
    bar.querySelector("[data-next]").disabled = current === all.length - 1;
    if (all[current].dataset.step === "summary") fillSummary();
    buildNav();
    if (scroll) window.scrollTo(0, Math.max(0, nav.getBoundingClientRect().top + window.pageYOffset - 8));
  }

  function fillSummary() {
    var list = form.querySelector("[data-summary-members]");
    list.innerHTML = "";
    cards().forEach(function (card) {
      var li = document.createElement("li");
      var rel = card.querySelector("[data-field=relationship] select");
      var relText = rel && rel.value ? " · " + rel.options[rel.selectedIndex].text : "";
      li.textContent = (cardTitle(card) || "—") + relText;
      if (stepHasError(card)) li.className = "issue-error";
      list.appendChild(li);
    });
    list.hidden = !cards().length;
  }

  function goTo(key) {
    var target = document.getElementById("f-" + key) || document.getElementById(key);
    if (!target) return;
    var step = target.closest(".step");
    show(steps().indexOf(step), false);
    target.scrollIntoView({ block: "center" });
    var control = target.querySelector("input:not([type=hidden]), select, textarea");
    if (control) control.focus({ preventScroll: true });
  }

  function startStep() {
    var all = steps();
    var wanted = form.dataset.start ? all.filter(function (s) { return s.dataset.step === form.dataset.start; })[0] : null;
    if (wanted) return all.indexOf(wanted);
    var bad = all.filter(stepHasError)[0];
    return bad ? all.indexOf(bad) : 0;
  }

  // -------------------------------------------------- events (delegated: new cards need no wiring)

  function onEdit(e, final) {
    var el = e.target;
    if (!el.name || el.classList.contains("picker-filter")) return;
    dirty = true;
    var w = el.closest(".field");
    if (w) {
      // A message from the last save no longer describes what is typed: it is checked again on save.
      w.querySelectorAll("[data-server]").forEach(function (p) { p.hidden = true; });
      w.classList.remove("has-error");
    }
    var scope = scopeOf(el);
    var name = el.name.slice(scope.prefix.length);
    var f = FIELDS[scope.key][name];
    if (f && f.type === "id_number") checkId(scope, name, final);
    else if (f && w && w.querySelector("[data-check]")) showCheck(w, valueMessage(f, el.value));
    if (scope.key === "members" && (name === "birth_date" || name === "sex")) checkId(scope, "id_number", true);
    applyRelevance(scope);
    if (name === "name") { refreshMembers(); buildNav(); }
  }

  form.addEventListener("input", function (e) { onEdit(e, false); });
  form.addEventListener("change", function (e) { onEdit(e, true); buildNav(); });

  form.addEventListener("click", function (e) {
    var t = e.target.closest("button, a");
    if (!t) return;
    if (t.hasAttribute("data-add-member")) { e.preventDefault(); addMember(); }
    else if (t.dataset.stepIndex) show(+t.dataset.stepIndex, true);
    else if (t.hasAttribute("data-prev")) show(current - 1, true);
    else if (t.hasAttribute("data-next")) show(current + 1, true);
    else if (t.hasAttribute("data-goto")) { e.preventDefault(); goTo(t.dataset.goto); }
    else if (t.hasAttribute("data-remove-card")) {
      var card = t.closest(".member");
      var at = steps().indexOf(card);
      card.remove();
      refreshMembers();
      show(at - 1, true);
    }
  });

  // Enter moves to the next field instead of saving half a form.
  form.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.target.tagName !== "INPUT") return;
    e.preventDefault();
    var controls = Array.prototype.slice.call(steps()[current].querySelectorAll("input, select, textarea"))
      .filter(function (c) { return c.type !== "hidden" && c.offsetParent !== null; });
    var next = controls[controls.indexOf(e.target) + 1];
    if (next) next.focus();
  });

  form.addEventListener("submit", function (e) {
    // A second tap while the first save is on its way: the server would answer the same
    // (same submission_id), but there is no need to ask twice.
    if (submitting) { e.preventDefault(); return; }
    submitting = true;
    setTimeout(function () { submitting = false; }, 8000);
  });
  window.addEventListener("beforeunload", function (e) {
    // static/pwa/form.js marks the form when everything typed is saved on the phone (IndexedDB).
    var kept = form.dataset.draftKept !== undefined;
    if (dirty && !submitting && !kept) { e.preventDefault(); e.returnValue = T.leave; return T.leave; }
  });

  // -------------------------------------------------- start

  /** Everything that depends on the values, worked out again (also after static/pwa/form.js
   *  filled the form from a draft kept on the phone). */
  function refresh() {
    allScopes().forEach(applyRelevance);
    cards().forEach(function (card) {
      var scope = scopeOf(card);
      var el = input(scope, "id_number");
      if (el && el.value && !wrapper(scope, "id_number").querySelector("[data-server]:not([hidden])")) {
        checkId(scope, "id_number", true);
      }
    });
    refreshMembers();
    show(startStep(), false);
  }

  // For static/pwa/form.js: add member cards and refresh after filling the form.
  window.DoorstepCollect.form = {
    addMember: function () { addMember(); return cards()[cards().length - 1]; },
    cards: cards, refresh: refresh
  };

  enhancePickers(form);
  bar.hidden = false;
  refresh();
  // Opened on a card because of an error: bring the first message into view (not focused,
  // so that the keyboard does not cover it).
  var firstError = steps()[current].querySelector(".field.has-error, .field-error[data-server]");
  if (firstError && !form.dataset.start) firstError.scrollIntoView({ block: "center" });
})();
