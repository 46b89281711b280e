// Exports: a segment's members as CSV (POST /v1/segments/{id}/exports, contract v2 §7) and the export's report,
// followed until it is done (rows written, its download link and when that expires) or failed (why).
// The API lists no past exports: the ones started in this browser tab are remembered here, in session storage.

import { ApiError, get, post, reasons } from "./api.js";
import { announce, badge, h, number, problems, replace } from "./dom.js";
import { every } from "./shell.js";

const STARTED = "audience-sync.exports";
const FIELDS = ["email", "first_name", "last_name", "phone", "country", "home_city", "language", "time_zone", "braze_id", "created_at"];
const FOLLOW_MS = 2000;

const started = () => JSON.parse(sessionStorage.getItem(STARTED) || "[]");

export async function exportsScreen(view, segmentId = null) {
  const { segments } = await get("/v1/segments");
  const segment = h("select", { id: "export-segment", required: true }, h("option", { value: "" }, "Choose a segment"),
    segments.map((s) => h("option", { value: s.id, selected: s.id === segmentId }, `${s.name} (${s.id})`)));
  const fields = h("input", { type: "text", id: "export-fields", value: "email, first_name, last_name", spellcheck: "false" });
  const feedback = h("div");
  const form = h("form", { class: "grid", "aria-labelledby": "export-title" },
    h("label", { for: "export-segment" }, "Segment"), segment,
    h("label", { for: "export-fields" }, "Columns"), h("div", {}, fields,
      h("p", { class: "hint" }, `After external_id, in this order, separated by commas: ${FIELDS.join(", ")}, or any custom attribute's name.`)),
    h("div", { class: "full actions" }, h("button", { type: "submit" }, "Export to CSV")),
    h("div", { class: "full" }, feedback));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const columns = fields.value.split(",").map((f) => f.trim()).filter(Boolean);
    try {
      const { export_id: exportId } = await post(`/v1/segments/${encodeURIComponent(segment.value)}/exports`, { format: "csv", fields: columns });
      sessionStorage.setItem(STARTED, JSON.stringify([{ id: exportId, segment: segment.value, at: new Date().toISOString() }, ...started()].slice(0, 50)));
      announce("Export started.");
      location.hash = `#/exports/${encodeURIComponent(exportId)}`;
    } catch (error) {
      const busy = error instanceof ApiError && error.status === 429;
      replace(feedback, problems("The export did not start", busy ? ["This segment is being exported already: try again when that export is done."] : reasons(error)));
    }
  });
  const mine = started();
  replace(view, h("h1", { id: "export-title" }, "Export a segment"), form,
    h("h2", {}, "Exports started in this tab"),
    mine.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Export", "Segment", "Started (UTC)"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, mine.map((e) => h("tr", {}, h("td", {}, h("a", { href: `#/exports/${encodeURIComponent(e.id)}` }, e.id)),
            h("td", {}, e.segment), h("td", {}, e.at.slice(0, 19).replace("T", " "))))))
      : h("p", {}, "None yet."));
}

export async function exportScreen(view, exportId) {
  const report = h("div"), refreshProblem = h("div");

  async function refresh() {
    const job = await get(`/v1/exports/${encodeURIComponent(exportId)}`);
    replace(refreshProblem);
    const rows = [
      ["Status", badge(job.status)], ["Segment", job.segment_id], ["Format", job.format],
      ["Rows written", h("span", { "data-metric": "rows" }, number(job.rows || 0))], ["Files", number(job.files || 0)],
      ["Started", job.created_at], ["Finished", job.finished_at || "—"],
    ];
    if (job.error) rows.push(["Why it failed", job.error]);
    if (job.url) rows.push(["Download", h("span", {}, h("a", { href: job.url, download: `${job.segment_id}.csv` }, "Download the CSV"), ` (the link expires at ${job.expires_at})`)]);
    if (job.object_prefix) rows.push(["Written to", `s3://${job.bucket}/${job.object_prefix}`]);
    replace(report, h("table", {}, h("tbody", {}, rows.map(([label, value]) => h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, value))))));
    if (job.status !== "running") announce(`The export is ${job.status}.`);
    return job.status === "running"; // followed until it ends
  }

  replace(view, h("h1", {}, "Export report"), h("p", {}, h("code", {}, exportId)), refreshProblem, report,
    h("p", {}, h("a", { href: "#/exports" }, "Export another segment")));
  if (await refresh()) every(view, FOLLOW_MS, refresh, refreshProblem);
}
