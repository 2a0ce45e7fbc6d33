/* Checks made on the phone before a submission goes into the outbox, from the same form
 * definition the server checks with (FormDefinition.as_json(), embedded in the form page):
 * the server's refusals first (a value over its field's limit or with a control character,
 * more members than the household type allows: collect.js's ports of validate.value_problem
 * and FormDefinition.max_members), then required fields (true or a condition), values of
 * code lists, dates (a real date, not before 1900, not in the future) and ID numbers
 * (GB 11643, collect.js's port). Fields that do not apply (relevance) are not checked, as on
 * the server. The server still checks everything; these only let most mistakes show while
 * there is no network.
 */

const EARLIEST = "1900-01-01";

function fmt(text, values) {
  return text.replace(/\{(\w+)\}/g, (all, key) => (key in values ? values[key] : all));
}

function typedValues(C, fields, record) {
  const values = {};
  for (const [name, f] of Object.entries(fields)) {
    const v = C.typed(f, record[name]);
    if (v !== null) values[name] = v;
  }
  return values;
}

function refusedValues(C, fields, record, prefix, ctx, out) {
  const refused = new Set();
  for (const [name, f] of Object.entries(fields)) {
    const problem = C.valueProblem(f, record[name]);
    if (!problem) continue;
    const label = f.label[ctx.lang];
    out.push({ key: prefix + name, message: problem.rule === "field.length"
      ? fmt(ctx.CT.too_long, { label, limit: problem.limit, n: problem.n })
      : fmt(ctx.CT.bad_chars, { label, chars: problem.chars }) });
    refused.add(name);
  }
  return refused;
}

function checkRecord(C, fields, order, record, prefix, ctx, out) {
  const refused = refusedValues(C, fields, record, prefix, ctx, out);
  record = Object.fromEntries(Object.entries(record).filter(([name]) => !refused.has(name)));
  const values = typedValues(C, fields, record);
  const notRelevant = C.settleRelevance(values, fields, order, ctx.today);
  const predicate = (name) => Boolean(C.derived(values, ctx.today)[name]);
  for (const [name, f] of Object.entries(fields)) {
    if (notRelevant[name]) continue;
    const label = f.label[ctx.lang];
    const key = prefix + name;
    const value = values[name];
    const required = f.required === true || (f.required && typeof f.required === "object"
                                             && C.evaluate(f.required, values, predicate));
    if (refused.has(name)) continue;
    if (value === undefined) {
      if (required) out.push({ key, message: fmt(ctx.T.required, { label }) });
      continue;
    }
    if (f.options && !f.options.some((o) => o.code === String(value))) {
      out.push({ key, message: fmt(ctx.T.bad_code, { label }) });
    } else if (f.type === "date") {
      if (!C.asDate(String(value))) out.push({ key, message: fmt(ctx.T.bad_date, { label }) });
      else if (value > ctx.todayIso) out.push({ key, message: fmt(ctx.T.future_date, { label }) });
      else if (value < EARLIEST) out.push({ key, message: fmt(ctx.T.early_date, { label }) });
    } else if (f.type === "id_number") {
      const parsed = C.parseIdNumber(String(value), ctx.todayIso);
      if (parsed.error) {
        out.push({ key, message: fmt(ctx.CT[parsed.error], { label, n: parsed.n, date: parsed.date }) });
      }
    }
  }
}

/** [{key: "household-door_no" | "members-2-name", message}] for the submission's data;
 *  indices[i] is the card index of data.members[i]. */
export function problems(definition, data, indices, T, collectT, lang) {
  const C = window.DoorstepCollect;
  const now = new Date();
  const today = { y: now.getFullYear(), m: now.getMonth() + 1, d: now.getDate() };
  const pad = (n) => String(n).padStart(2, "0");
  const ctx = { T, CT: collectT, lang, today, todayIso: `${today.y}-${pad(today.m)}-${pad(today.d)}` };
  const fields = { household: {}, members: {} };
  for (const s of definition.sections) for (const f of s.fields) fields[s.data_key][f.name] = f;
  const out = [];
  const limit = C.maxMembers(definition, typedValues(C, fields.household, data.household));
  if (data.members.length > limit) {
    const section = definition.sections.find((s) => s.repeat);
    // Next to the household type: the choice that sets the limit (集体户 holds more).
    out.push({ key: "household-household_type", message: fmt(collectT.too_many, {
      label: section.label[lang], n: data.members.length, limit }) });
  }
  checkRecord(C, fields.household, definition.relevance_order.household, data.household, "household-", ctx, out);
  data.members.forEach((m, i) => {
    checkRecord(C, fields.members, definition.relevance_order.members, m, `members-${indices[i]}-`, ctx, out);
  });
  return out;
}
