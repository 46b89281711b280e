// Scheduled S3 imports (contract v2 §8): the list, the editor (bucket and prefix, format, schedule, the identifier
// column, column-to-attribute mappings with their strategies, creating users or not) and the import's screen: what
// it has imported, run now, and each run's report with the rows it could not import and why.

import { ApiError, get, post } from "./api.js";
import { announce, badge, h, number, problems, rebuild, replace } from "./dom.js";
import { every, failed, saveDefinition } from "./shell.js";

const STRATEGIES = [
  ["set", "set (overwrite)"], ["add", "add (to an array)"], ["sum", "sum (to a number)"],
  ["set_if_empty", "set if empty"], ["clear_if_empty", "clear if the cell is empty, else set"],
];
const REFRESH_MS = 5000;
const importPath = (id) => `/v1/imports/${encodeURIComponent(id)}`;

export async function importsScreen(view) {
  const { imports } = await get("/v1/imports");
  replace(view,
    h("h1", {}, "Imports"),
    h("div", { class: "actions" }, h("a", { href: "#/imports/+new" }, "New import")),
    imports.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Import", "Reads", "Format", "Every", "Enabled"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, imports.map((i) => h("tr", {},
            h("td", {}, h("a", { href: `#/imports/${encodeURIComponent(i.import_id)}` }, i.import_id)),
            h("td", {}, `s3://${i.bucket}/${i.prefix}`), h("td", {}, i.format), h("td", {}, `${number(i.every_minutes)} min`),
            h("td", {}, i.enabled ? "yes" : "no")))))
      : h("p", {}, "No imports yet. An import reads new CSV or NDJSON files under an S3 prefix on a schedule and writes them to profiles."));
}

function runsTable(runs) {
  if (!runs.length) return h("p", {}, "No runs yet.");
  const count = (n) => h("td", { class: "num" }, number(n || 0));
  return h("div", {},
    h("table", {}, h("thead", {}, h("tr", {}, ["Started (UTC)", "Finished", "Status", "Files", "Rows", "Created", "Updated", "Skipped", "Failed rows"]
      .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, runs.map((r) => h("tr", {}, h("td", {}, r.started_at), h("td", {}, r.finished_at || "—"),
        h("td", {}, badge(r.status), r.error ? ` ${r.error}` : ""), count(r.files), count(r.rows), count(r.created), count(r.updated),
        count(r.skipped), count(Math.max(r.failed_total || 0, r.failed.length)))))),
    runs.filter((r) => r.failed.length).map((r) => h("details", {}, h("summary", {}, `Rows the run of ${r.started_at} could not import`),
      h("table", {}, h("thead", {}, h("tr", {}, ["File", "Line", "Why"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, r.failed.map((f) => h("tr", {}, h("td", {}, f.file), h("td", { class: "num" }, f.line), h("td", {}, f.reason))))))));
}

export async function importScreen(view, importId) {
  const path = importPath(importId);
  const summary = h("div"), runsBox = h("div"), feedback = h("div"), refreshProblem = h("div");
  let running = false;
  const runButton = h("button", { type: "button", onclick: async () => {
    running = true;
    runButton.disabled = true;
    try {
      await post(`${path}/run`);
      replace(feedback, h("div", { class: "notice", role: "status" }, "The run started: its report appears below."));
      announce("The import is running.");
      await refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) replace(feedback, problems("The import did not run", error.lines()));
      else failed(feedback, error);
    } finally {
      running = false;
      runButton.disabled = false;
    }
  } }, "Run now");

  async function refresh() {
    const [definition, { runs }] = await Promise.all([get(path), get(`${path}/runs`)]);
    replace(refreshProblem);
    runButton.disabled = running;
    replace(summary, h("table", {}, h("tbody", {}, [
      ["Reads", `s3://${definition.bucket}/${definition.prefix} (${definition.format})`],
      ["Every", `${number(definition.every_minutes)} minutes${definition.enabled ? "" : " (disabled)"}`],
      ["Identifier", `column ${definition.identifier.column} as ${definition.identifier.type}`],
      ["Mappings", definition.mappings.map((m) => `${m.column} → ${m.attribute} (${m.strategy})`).join("; ")],
      ["Unknown users", definition.allow_create ? "created" : "skipped"],
      ["Imported through", definition.imported_through || "nothing yet"],
      ["Next run", definition.next_run_at || (definition.enabled ? "at the schedule's next tick (within a minute)" : "none: disabled")],
    ].map(([label, value]) => h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, value))))));
    rebuild(runsBox, () => runsTable(runs));
  }

  replace(view, h("h1", {}, `Import ${importId}`),
    h("div", { class: "actions" }, h("a", { href: `#/imports/${encodeURIComponent(importId)}/edit` }, "Edit"), runButton),
    feedback, refreshProblem, summary, h("h2", {}, "Runs"), h("p", { class: "hint" }, "Each file under the prefix is imported once, in key order. Refreshed every 5 seconds."), runsBox);
  await refresh();
  every(view, REFRESH_MS, refresh, refreshProblem);
}

export async function editImportScreen(view, importId) {
  const existing = importId ? await get(importPath(importId)) : null;
  const stored = existing || { format: "csv", every_minutes: 60, identifier: { column: "external_id", type: "external_id" }, mappings: [], allow_create: true, enabled: true, prefix: "" };
  const text = (id, value) => h("input", { type: "text", id, value: value ?? "", spellcheck: "false" });
  const idInput = h("input", { type: "text", id: "import-id", required: true, value: importId || "", disabled: Boolean(importId) });
  const bucket = text("import-bucket", stored.bucket), prefix = text("import-prefix", stored.prefix);
  const format = h("select", { id: "import-format" }, ["csv", "ndjson"].map((f) => h("option", { value: f, selected: stored.format === f }, f)));
  const everyMinutes = h("input", { type: "number", id: "import-every", min: 1, value: stored.every_minutes });
  const idColumn = text("import-id-column", stored.identifier.column);
  const alias = stored.identifier.type.startsWith("alias:") ? stored.identifier.type.slice(6) : "";
  const idType = h("select", { id: "import-id-type" }, [["external_id", "external id"], ["email", "email"], ["alias", "an alias, with the label"]]
    .map(([v, t]) => h("option", { value: v, selected: (alias ? "alias" : stored.identifier.type) === v }, t)));
  const aliasLabel = h("input", { type: "text", value: alias, "aria-label": "Alias label" });
  const mappingRows = h("tbody");
  const addMappingButton = h("button", { type: "button", class: "secondary", onclick: () => addMapping() }, "Add a mapping");
  let mappingsAdded = 0; // numbers rows for their labels; never reused, so no two rows share a name
  const addMapping = (m = { column: "", attribute: "", strategy: "set" }) => {
    const n = ++mappingsAdded;
    const row = h("tr", {}, h("td", {}, h("input", { type: "text", value: m.column, "aria-label": `Mapping ${n} column` })),
      h("td", {}, h("input", { type: "text", value: m.attribute, "aria-label": `Mapping ${n} attribute` })),
      h("td", {}, h("select", { "aria-label": `Mapping ${n} strategy` }, STRATEGIES.map(([v, t]) => h("option", { value: v, selected: m.strategy === v }, t)))),
      h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => { row.remove(); addMappingButton.focus(); }, "aria-label": `Remove mapping ${n}` }, "Remove")));
    mappingRows.append(row);
  };
  (stored.mappings.length ? stored.mappings : [undefined]).forEach((m) => addMapping(m));
  const allowCreate = h("input", { type: "checkbox", id: "import-allow-create", checked: stored.allow_create });
  const enabled = h("input", { type: "checkbox", id: "import-enabled", checked: stored.enabled });
  const feedback = h("div");
  const form = h("form", { class: "grid", "aria-labelledby": "import-title" },
    h("label", { for: "import-id" }, "Import id"), idInput,
    h("label", { for: "import-bucket" }, "Bucket"), bucket,
    h("label", { for: "import-prefix" }, "Prefix"), h("div", {}, prefix, h("p", { class: "hint" }, "Every object under it is imported once, in key order (delta files).")),
    h("label", { for: "import-format" }, "Format"), format,
    h("label", { for: "import-every" }, "Every (minutes)"), everyMinutes,
    h("label", { for: "import-id-column" }, "Identifier column"), h("div", {}, idColumn, " ", h("label", { for: "import-id-type" }, "holds "), idType, " ", aliasLabel),
    h("span", { class: "label", id: "mappings-label" }, "Mappings"),
    h("div", {}, h("table", { class: "filters", "aria-labelledby": "mappings-label" },
      h("thead", {}, h("tr", {}, ["Column", "Attribute", "Strategy", ""].map((t) => h("th", { scope: "col" }, t)))), mappingRows),
      addMappingButton),
    h("label", { for: "import-allow-create" }, "Create unknown users"), allowCreate,
    h("label", { for: "import-enabled" }, "Enabled"), enabled,
    h("div", { class: "full actions" }, h("button", { type: "submit" }, "Save"),
      h("a", { href: importId ? `#/imports/${encodeURIComponent(importId)}` : "#/imports" }, "Cancel")),
    h("div", { class: "full" }, feedback));
  const syncAlias = () => { aliasLabel.hidden = idType.value !== "alias"; };
  idType.addEventListener("change", syncAlias);
  syncAlias();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = importId || idInput.value.trim();
    // values as typed: the API stores them so (a prefix that changed by a space would be a new source, imported
    // again from its first key); rows left empty are not sent
    const mappings = [...mappingRows.children].map((row) => {
      const [column, attribute, strategy] = row.querySelectorAll("input, select");
      return { column: column.value, attribute: attribute.value, strategy: strategy.value };
    }).filter((m) => m.column || m.attribute);
    const body = {
      bucket: bucket.value.trim(), prefix: prefix.value, format: format.value, every_minutes: Number(everyMinutes.value),
      identifier: { column: idColumn.value, type: idType.value === "alias" ? `alias:${aliasLabel.value}` : idType.value },
      mappings, allow_create: allowCreate.checked, enabled: enabled.checked,
    };
    const listed = async () => (await get("/v1/imports")).imports.map((i) => i.import_id);
    await saveDefinition(feedback, { kind: "import", id, isNew: !importId, listed, body });
  });
  replace(view, h("h1", { id: "import-title" }, importId ? `Edit import ${importId}` : "New import"), form);
}
