// Segments: the list (with the partners' cohorts), a segment's screen (size, entries and exits per hour, members)
// and the editor: a builder for the common filters (all or any of attribute, custom event, purchase and cohort
// conditions) and the filter as JSON for the rest of the language (nesting, "not", last occurred), docs/segments.md.

import { ApiError, del, get, reasons } from "./api.js";
import { announce, h, number, options, problems, replace } from "./dom.js";
import { lineChart } from "./chart.js";
import { failed, saveDefinition } from "./shell.js";

const ATTRIBUTE_OPS = [
  ["eq", "equals"], ["ne", "does not equal"], ["gt", "greater than"], ["gte", "at least"], ["lt", "less than"],
  ["lte", "at most"], ["exists", "exists"], ["not_exists", "does not exist"], ["is_true", "is true"],
  ["is_false", "is false"], ["in", "is one of (JSON list)"], ["matches_regex", "matches the regex"],
  ["not_matches_regex", "does not match the regex"], ["includes_any", "includes any of (JSON list)"],
  ["includes_none", "includes none of (JSON list)"], ["includes_all", "includes all of (JSON list)"],
  ["before", "before (date)"], ["after", "after (date)"],
  ["more_than_days_ago", "more than N days ago"], ["less_than_days_ago", "less than N days ago"],
];
const KNOWN_ATTRIBUTE_OPS = new Set(ATTRIBUTE_OPS.map(([op]) => op));
const NO_VALUE = new Set(["exists", "not_exists", "is_true", "is_false"]);
const COUNT_OPS = [["more_than", "more than"], ["less_than", "less than"], ["exactly", "exactly"]];
const KINDS = [["attribute", "Attribute"], ["custom_event", "Custom event"], ["purchase", "Purchase"], ["cohort", "Partner cohort"]];

export async function segmentsScreen(main) {
  const [{ segments }, { cohorts }] = await Promise.all([get("/v1/segments"), get("/v1/cohorts")]);
  replace(main,
    h("h1", {}, "Segments"),
    h("div", { class: "actions" }, h("a", { href: "#/segments/+new" }, "New segment")),
    segments.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Segment", "Name", "Description", "Updated"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, segments.map((s) => h("tr", {},
            h("td", {}, h("a", { href: `#/segments/${encodeURIComponent(s.id)}` }, s.id)), h("td", {}, s.name),
            h("td", {}, s.description || ""), h("td", {}, s.updated_at || "")))))
      : h("p", {}, "No segments yet. A segment keeps the users whose profiles match its filter, as they change."),
    h("h2", {}, "Partner cohorts"),
    cohorts.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Partner", "Cohort", "Name", "Members", "Ids that named no user"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, cohorts.map((c) => h("tr", {}, h("td", {}, c.partner), h("td", {}, c.cohort_id), h("td", {}, c.name || ""),
            h("td", { class: "num" }, number(c.members || 0)), h("td", { class: "num" }, number(c.ignored_ids || 0))))))
      : h("p", {}, "No cohorts imported yet: partners (Segment, Lytics, BlueConic...) send them with a data import key."));
}

export async function segmentScreen(main, segmentId) {
  const path = `/v1/segments/${encodeURIComponent(segmentId)}`;
  const segment = await get(path);
  const membersBox = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More members");
  let cursor = null;
  async function page() {
    const query = `?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const found = await get(`${path}/members${query}`);
    for (const m of found.members) membersBox.append(h("tr", {}, h("td", {}, m.external_id ?? "(anonymous)"), h("td", {}, m.braze_id), h("td", {}, m.entered_at)));
    cursor = found.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener("click", () => page().catch((error) => failed(feedback, error)));
  // the API lists the hours something happened in; the chart's axis needs every hour of the day, empty ones as 0
  const counted = new Map(segment.metrics.hours.map((p) => [p.hour, p]));
  const now = Date.now();
  const hours = Array.from({ length: 24 }, (_, i) => new Date(now - (23 - i) * 3_600_000).toISOString().slice(0, 13))
    .map((hour) => ({ entered: 0, exited: 0, ...counted.get(hour), minute: `${hour}:00:00Z` }));
  const anything = segment.metrics.hours.length > 0;
  const remove = h("button", { type: "button", class: "danger", onclick: async () => {
    if (!window.confirm(`Delete segment ${segmentId}? Its id can never be used again.`)) return;
    try {
      await del(path);
      announce(`Segment ${segmentId} deleted.`);
      location.hash = "#/segments";
    } catch (error) {
      replace(feedback, problems("The segment was not deleted", reasons(error)));
    }
  } }, "Delete");
  const feedback = h("div");
  replace(main,
    h("h1", {}, `Segment ${segment.name}`),
    h("p", {}, `Id ${segment.id}`, segment.description ? ` · ${segment.description}` : ""),
    h("div", { class: "actions" }, h("a", { href: `#/segments/${encodeURIComponent(segmentId)}/edit` }, "Edit"),
      h("a", { href: `#/segments/${encodeURIComponent(segmentId)}/export` }, "Export to CSV"), remove),
    feedback,
    h("div", { class: "cards" },
      [["size", "Members now", segment.size], ["entered", "Entered in all", segment.metrics.entered], ["exited", "Exited in all", segment.metrics.exited]]
        .map(([name, label, n]) => h("div", { class: "card" }, h("div", { class: "value", "data-metric": name }, number(n)), h("div", { class: "label" }, label)))),
    h("h2", {}, "Entries and exits per hour"),
    anything ? lineChart(`Segment ${segmentId}, the last 24 hours`, hours, [["entered", "Entered"], ["exited", "Exited"]], [], "hours") : h("p", {}, "Nobody entered or left in the last 24 hours."),
    h("h2", {}, "Filter"), h("pre", {}, JSON.stringify(segment.filter, null, 2)),
    h("h2", {}, "Members"),
    h("table", {}, h("thead", {}, h("tr", {}, ["External id", "Braze id", "Entered at"].map((t) => h("th", { scope: "col" }, t)))), membersBox),
    more);
  await page();
}

// A filter the builder can show: a leaf, or all/any of leaves it knows.
function builderRows(filter) {
  const group = filter.all ? "all" : filter.any ? "any" : null;
  const leaves = group ? filter[group] : [filter];
  // anything else (an operator it does not list, nesting, "not", last occurred) is edited as JSON: never shown as
  // something else and saved changed
  const known = leaves.every((leaf) => (leaf.attribute !== undefined && KNOWN_ATTRIBUTE_OPS.has(leaf.op)) || (leaf.cohort && leaf.op)
    || ((leaf.custom_event !== undefined || leaf.purchase !== undefined) && leaf.op && leaf.last_occurred === undefined));
  return known ? { group: group || "all", leaves } : null;
}

export async function editSegmentScreen(main, segmentId) {
  const [existing, { cohorts }] = await Promise.all([
    segmentId ? get(`/v1/segments/${encodeURIComponent(segmentId)}`) : Promise.resolve(null),
    get("/v1/cohorts"),
  ]);
  const idInput = h("input", { type: "text", id: "segment-id", required: true, value: segmentId || "", disabled: Boolean(segmentId) });
  const name = h("input", { type: "text", id: "segment-name", required: true, value: existing ? existing.name : "" });
  const description = h("input", { type: "text", id: "segment-description", value: existing ? existing.description || "" : "" });
  const startFilter = existing ? existing.filter : { all: [] };
  const shown = builderRows(startFilter);
  const groupAll = h("input", { type: "radio", name: "group", id: "group-all", value: "all", checked: !shown || shown.group === "all" });
  const groupAny = h("input", { type: "radio", name: "group", id: "group-any", value: "any", checked: Boolean(shown) && shown.group === "any" });
  const rows = h("div", { class: "conditions" });
  const json = h("textarea", { id: "filter-json", rows: 12, cols: 80, spellcheck: "false" });
  const jsonMode = h("input", { type: "checkbox", id: "json-mode", checked: !shown });
  let conditionsAdded = 0; // numbers rows for their labels; never reused, so no two rows share a name
  const addButtons = h("div", { class: "actions" }, KINDS.map(([kind, label]) => h("button", { type: "button", class: "secondary", onclick: () => addRow({ kind }) }, `Add ${label.toLowerCase()}`)));
  const builder = h("div", {}, h("fieldset", {}, h("legend", {}, "Users who match"),
    groupAll, " ", h("label", { for: "group-all" }, "all of these conditions"), " ",
    groupAny, " ", h("label", { for: "group-any" }, "any of these conditions")), rows,
    addButtons);
  const jsonBox = h("div", {}, h("label", { for: "filter-json" }, "Filter (JSON)"), h("br"), json);

  function addRow(leaf) {
    const kind = leaf.kind || (leaf.cohort ? "cohort" : leaf.custom_event !== undefined ? "custom_event" : leaf.purchase !== undefined ? "purchase" : "attribute");
    const n = ++conditionsAdded;
    const label = (what) => ({ "aria-label": `Condition ${n} ${what}` });
    let fields;
    if (kind === "attribute") {
      const op = h("select", label("operator"), ATTRIBUTE_OPS.map(([v, t]) => h("option", { value: v, selected: leaf.op === v }, t)));
      const value = h("input", { type: "text", ...label("value (JSON: \"gold\", 3, true, [\"a\",\"b\"])"), value: leaf.value === undefined ? "" : JSON.stringify(leaf.value) });
      fields = { kind, name: h("input", { type: "text", ...label("attribute"), value: leaf.attribute || "" }), op, value };
    } else if (kind === "cohort") {
      const stored = leaf.cohort ? `${leaf.cohort.partner}/${leaf.cohort.cohort_id}` : null;
      const known = cohorts.map((c) => [`${c.partner}/${c.cohort_id}`, `${c.name || c.cohort_id} (${c.partner})`]);
      fields = { kind, cohort: h("select", label("cohort"), options(known, stored, "Choose a cohort")),
        op: h("select", label("operator"), [["in", "in the cohort"], ["not_in", "not in the cohort"]].map(([v, t]) => h("option", { value: v, selected: leaf.op === v }, t))) };
    } else {
      const subject = kind === "purchase" ? "product (* for any)" : "event name";
      fields = { kind, name: h("input", { type: "text", ...label(subject), value: leaf[kind] || "" }),
        op: h("select", label("operator"), COUNT_OPS.map(([v, t]) => h("option", { value: v, selected: leaf.op === v }, t))),
        count: h("input", { type: "number", min: 0, ...label("count"), value: leaf.count ?? 0 }),
        days: h("input", { type: "number", min: 1, max: 30, ...label("in the last N days (empty: ever)"), value: leaf.in_days ?? "" }) };
    }
    const row = h("div", { class: "condition", dataset: { kind } },
      h("strong", {}, `${KINDS.find(([k]) => k === kind)[1]}: `), Object.values(fields).filter((f) => f instanceof Node),
      h("button", { type: "button", class: "secondary", onclick: () => { row.remove(); addButtons.querySelector("button").focus(); }, ...label("remove") }, "Remove"));
    row.fields = fields;
    rows.append(row);
  }

  function leafOf(fields) {
    if (fields.kind === "attribute") {
      const leaf = { attribute: fields.name.value.trim(), op: fields.op.value };
      if (!NO_VALUE.has(leaf.op)) {
        try { leaf.value = JSON.parse(fields.value.value); } catch { leaf.value = fields.value.value; }
      }
      return leaf;
    }
    if (fields.kind === "cohort") {
      const [partner, ...rest] = fields.cohort.value.split("/");
      return { cohort: { partner, cohort_id: rest.join("/") }, op: fields.op.value };
    }
    const leaf = { [fields.kind]: fields.name.value.trim(), op: fields.op.value, count: Number(fields.count.value) };
    if (fields.days.value !== "") leaf.in_days = Number(fields.days.value);
    return leaf;
  }

  function filter() {
    if (jsonMode.checked) return JSON.parse(json.value);
    const leaves = [...rows.children].map((row) => leafOf(row.fields));
    return { [groupAny.checked ? "any" : "all"]: leaves };
  }

  if (shown) shown.leaves.forEach(addRow);
  json.value = JSON.stringify(startFilter, null, 2);
  // Switching to JSON carries the builder's conditions over; switching back keeps the builder's own.
  const toggle = () => {
    if (jsonMode.checked && rows.children.length) {
      json.value = JSON.stringify({ [groupAny.checked ? "any" : "all"]: [...rows.children].map((row) => leafOf(row.fields)) }, null, 2);
    }
    builder.hidden = jsonMode.checked;
    jsonBox.hidden = !jsonMode.checked;
  };
  jsonMode.addEventListener("change", toggle);
  const feedback = h("div");
  const form = h("form", { class: "grid", "aria-labelledby": "segment-title" },
    h("label", { for: "segment-id" }, "Segment id"), idInput,
    h("label", { for: "segment-name" }, "Name"), name,
    h("label", { for: "segment-description" }, "Description"), description,
    h("span", { class: "label" }, "Filter"),
    h("div", {}, h("div", {}, jsonMode, " ", h("label", { for: "json-mode" }, "Edit the filter as JSON (nesting, not, last occurred)")), builder, jsonBox),
    h("div", { class: "full actions" }, h("button", { type: "submit" }, "Save"),
      h("a", { href: segmentId ? `#/segments/${encodeURIComponent(segmentId)}` : "#/segments" }, "Cancel")),
    h("div", { class: "full" }, feedback));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = segmentId || idInput.value.trim();
    let body;
    try {
      body = { name: name.value.trim(), description: description.value.trim(), filter: filter() };
    } catch (error) {
      replace(feedback, problems("The filter is not valid JSON", [String(error.message || error)]));
      return;
    }
    const listed = async () => (await get("/v1/segments")).segments.map((known) => known.id);
    // a filter's objections name where they are (a JSON Pointer into the body)
    const lines = (error) => {
      const pointed = error instanceof ApiError ? error.details.map((d) => `${d.path || ""} ${d.message || ""}`.trim()) : [];
      return pointed.length ? pointed : reasons(error);
    };
    await saveDefinition(feedback, { kind: "segment", id, isNew: !segmentId, listed, body, lines });
  });
  replace(main, h("h1", { id: "segment-title" }, segmentId ? `Edit segment ${segmentId}` : "New segment"), form);
  toggle();
}
