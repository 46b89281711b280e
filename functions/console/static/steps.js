// Sync steps: the list, the step screen (metrics, their chart, the audience's insights, launch) and the editor with
// every field of LinkedIn Audience Sync's step screen (destination, ad account, new or existing audience, add or remove, match
// fields, consent and eligibility filters, last step).

import { ApiError, get, post } from "./api.js";
import { announce, badge, h, number, options, problems, rebuild, replace } from "./dom.js";
import { lineChart } from "./chart.js";
import { every, failed, saveDefinition } from "./shell.js";

const MATCH_FIELDS = [
  ["email", "Email (normalised and SHA-256 hashed before it leaves)"],
  ["first_last_name", "First and last name"],
  ["android_gaid", "Android advertising id (GAID)"],
];
const OPS = [["eq", "equals"], ["ne", "does not equal"], ["exists", "exists"], ["not_exists", "does not exist"]];
const METRICS = [
  ["entered", "Entered"], ["synced", "Synced"], ["pending", "Pending"], ["not_synced", "Not synced"],
  ["errored", "Errored"], ["proceeded", "Proceeded"], ["exited", "Exited"], ["left", "Left"], ["removed", "Removed"],
];
const REFRESH_MS = 5000;

export async function stepsScreen(view) {
  const { steps } = await get("/v1/steps");
  replace(view,
    h("h1", {}, "Sync steps"),
    h("div", { class: "actions" }, h("a", { href: "#/steps/+new" }, "New step")),
    steps.length
      ? h("table", {},
          h("thead", {}, h("tr", {}, ["Step", "Status", "Ad account", "Audience", "Action", "Problem"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, steps.map((step) => h("tr", {},
            h("td", {}, h("a", { href: `#/steps/${encodeURIComponent(step.step_id)}` }, step.step_id)),
            h("td", {}, badge(step.status)),
            h("td", {}, step.config.ad_account_id || "—"),
            h("td", {}, step.audience_id || (step.config.audience && (step.config.audience.name || step.config.audience.id)) || "—"),
            h("td", {}, step.config.action || "add"),
            h("td", {}, step.error ? badge("error") : "", step.error ? ` ${step.error}` : "")))))
      : h("p", {}, "No steps yet. A step takes the users your journeys send it into a LinkedIn audience."));
}

export async function stepScreen(view, stepId) {
  const path = `/v1/steps/${encodeURIComponent(stepId)}`;
  const chartBox = h("div"), cards = h("div", { class: "cards" }), audienceBox = h("div");
  const feedback = h("div"), refreshProblem = h("div");
  // Built once: a refresh updates the status line and the metrics, never the controls (focus stays put, and a
  // launch in flight keeps its button disabled).
  const status = h("p");
  const launchButton = h("button", { type: "button", hidden: true, onclick: () => launch() }, "Launch");
  let launching = false;

  async function refresh() {
    const [step, metrics, history] = await Promise.all([get(path), get(`${path}/metrics`), get(`${path}/metrics/history?minutes=60`)]);
    replace(refreshProblem);
    replace(status, "Status: ", badge(step.status), step.audience_id ? ` · audience ${step.audience_id}` : "",
      step.error ? h("span", {}, " · ", badge("error"), ` ${step.error}`) : "");
    launchButton.hidden = step.status === "active";
    launchButton.disabled = launching;
    replace(cards, METRICS.filter(([name]) => name in metrics).map(([name, label]) =>
      h("div", { class: "card" }, h("div", { class: "value", "data-metric": name }, number(metrics[name])), h("div", { class: "label" }, label))));
    const shown = [["entered", "Entered"], ["synced", "Synced"], ["pending", "Pending (at the minute's end)"], ["errored", "Errored"]];
    rebuild(chartBox, () => lineChart(`Users of step ${stepId}, the last hour`, history.points, shown, ["pending"]));
    if (step.status === "active") {
      const audience = await get(`${path}/audience`).catch((error) => ({ failed: error }));
      replace(audienceBox, audienceView(audience));
    }
  }

  async function launch() {
    launching = true;
    launchButton.disabled = true;
    try {
      const launched = await post(`${path}/launch`);
      replace(feedback, h("div", { class: "notice", role: "status" }, `Launched: audience ${launched.audience_id}.`));
      announce("The step is launched.");
      await refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        replace(feedback, problems("The step cannot be launched", error.lines()));
      } else {
        failed(feedback, error);
      }
    } finally {
      launching = false;
      launchButton.disabled = false;
    }
  }

  replace(view, h("h1", {}, `Step ${stepId}`), status,
    h("div", { class: "actions" }, h("a", { href: `#/steps/${encodeURIComponent(stepId)}/edit` }, "Edit"), launchButton),
    feedback, refreshProblem, h("h2", {}, "Metrics"), cards, h("p", { class: "hint" },
    "Entered = synced + not synced + errored + pending. Refreshed every 5 seconds."),
    h("h2", {}, "Over time"), chartBox, h("h2", {}, "Audience"), audienceBox);
  await refresh();
  every(view, REFRESH_MS, refresh, refreshProblem);
}

function utc(epochMs) {
  return `${new Date(epochMs).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function audienceView(audience) {
  if (audience.failed) return h("p", {}, `LinkedIn could not be read: ${audience.failed.message}`);
  const rows = [
    ["Status", audience.status], ["Size", audience.size ?? "—"], ["Matched", audience.matched_count ?? "—"],
    ["Match rate", audience.match_rate == null ? "—" : `${Math.round(audience.match_rate * 100)} %`],
    ["Read from LinkedIn", audience.refreshed_at ? utc(audience.refreshed_at) : "—"],
  ];
  return h("div", {},
    h("table", {}, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, String(v)))))),
    audience.explanation ? h("p", {}, audience.explanation) : null);
}

export async function editStepScreen(view, stepId) {
  const [connection, existing, { segments }] = await Promise.all([
    get("/v1/connections/linkedin"),
    stepId ? get(`/v1/steps/${encodeURIComponent(stepId)}`) : Promise.resolve(null),
    get("/v1/segments"),
  ]);
  const config = (existing && existing.config) || {};
  const source = config.source || { type: "webhook" };
  const fromWebhook = h("input", { type: "radio", name: "source", id: "source-webhook", value: "webhook", checked: source.type !== "segment" });
  const fromSegment = h("input", { type: "radio", name: "source", id: "source-segment", value: "segment", checked: source.type === "segment" });
  const segment = h("select", { id: "source-segment-id", "aria-label": "Segment the step follows" },
    options(segments.map((sg) => [sg.id, `${sg.name} (${sg.id})`]), source.segment_id, "Choose a segment"));
  const backfill = h("input", { type: "checkbox", id: "source-backfill", checked: Boolean(source.backfill) });
  const syncExits = h("input", { type: "checkbox", id: "source-sync-exits", checked: Boolean(source.sync_exits) });
  const audience = config.audience || {};
  const idInput = h("input", { type: "text", id: "step-id", required: true, value: stepId || "", disabled: Boolean(stepId) });
  // The stored account stays a choice when the connection no longer lists it (disconnected, or access revoked).
  const listed = connection.ad_accounts || [];
  const stored = config.ad_account_id && !listed.some((a) => a.id === config.ad_account_id)
    ? [{ id: config.ad_account_id, name: "not in the connection's accounts now" }] : [];
  const account = h("select", { id: "ad-account" },
    h("option", { value: "" }, "Choose an ad account"),
    [...listed, ...stored].map((a) => h("option", { value: a.id, selected: a.id === config.ad_account_id },
      `${a.name} (${a.id})${a.usable === false ? ` — your role ${a.role || ""} cannot add audiences` : ""}`)));
  const audienceKind = audience.id ? "existing" : "new";
  const kindNew = h("input", { type: "radio", name: "audience-kind", id: "audience-new", value: "new", checked: audienceKind === "new" });
  const kindExisting = h("input", { type: "radio", name: "audience-kind", id: "audience-existing", value: "existing", checked: audienceKind === "existing" });
  const audienceName = h("input", { type: "text", id: "audience-name", value: audience.name || "", "aria-label": "New audience name" });
  const audienceId = h("input", { type: "text", id: "audience-id", value: audience.id || "", "aria-label": "Existing audience id" });
  const action = h("select", { id: "action" }, [["add", "Add users to the audience"], ["remove", "Remove users from the audience"]]
    .map(([v, t]) => h("option", { value: v, selected: (config.action || "add") === v }, t)));
  const matchBoxes = MATCH_FIELDS.map(([value, label]) => {
    const box = h("input", { type: "checkbox", id: `match-${value}`, value, checked: (config.match_fields || []).includes(value) });
    return h("div", {}, box, " ", h("label", { for: `match-${value}` }, label));
  });
  const lastStep = h("input", { type: "checkbox", id: "last-step", checked: Boolean(config.last_step) });
  const filterRows = h("tbody");
  const addFilterButton = h("button", { type: "button", class: "secondary", onclick: () => addFilter() }, "Add a filter");
  let filtersAdded = 0; // numbers rows for their labels; never reused, so no two rows share a name
  const addFilter = (filter = { attribute: "", op: "eq", value: true }) => {
    const n = ++filtersAdded;
    const attribute = h("input", { type: "text", value: filter.attribute, "aria-label": `Filter ${n} attribute` });
    const op = h("select", { "aria-label": `Filter ${n} condition` }, OPS.map(([v, t]) => h("option", { value: v, selected: filter.op === v }, t)));
    const value = h("input", { type: "text", value: filter.value === undefined ? "" : JSON.stringify(filter.value), "aria-label": `Filter ${n} value (JSON: true, "text", 3)` });
    const row = h("tr", {}, h("td", {}, attribute), h("td", {}, op), h("td", {}, value),
      h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => { row.remove(); addFilterButton.focus(); }, "aria-label": `Remove filter ${n}` }, "Remove")));
    filterRows.append(row);
  };
  (config.entry_filters || []).forEach(addFilter);
  const feedback = h("div");

  function body() {
    const filters = [...filterRows.children].map((row) => {
      const [attribute, op, value] = row.querySelectorAll("input, select");
      const filter = { attribute: attribute.value.trim(), op: op.value };
      if (op.value === "eq" || op.value === "ne") {
        try { filter.value = JSON.parse(value.value); } catch { filter.value = value.value; }
      }
      return filter;
    });
    const chosen = kindExisting.checked ? { id: audienceId.value.trim() } : { name: audienceName.value.trim() };
    const from = fromSegment.checked
      ? { type: "segment", segment_id: segment.value, backfill: backfill.checked, sync_exits: syncExits.checked }
      : { type: "webhook" };
    // The stored config with the form's fields over it: PUT replaces the whole config, and what the form does not
    // show (a destination other than LinkedIn's name for it, ...) must survive an edit.
    const edited = { ...config };
    delete edited.partner;
    delete edited.ad_account_id;
    delete edited.audience;
    return {
      ...edited,
      source: from,
      destination: config.destination || "linkedin",
      ...(account.value ? { ad_account_id: account.value } : {}),
      ...(chosen.id || chosen.name ? { audience: chosen } : {}),
      action: action.value,
      match_fields: matchBoxes.map((d) => d.querySelector("input")).filter((b) => b.checked).map((b) => b.value),
      entry_filters: filters,
      last_step: lastStep.checked,
    };
  }

  const form = h("form", { class: "grid", "aria-labelledby": "edit-title" },
    h("label", { for: "step-id" }, "Step id"), h("div", {}, idInput, h("p", { class: "hint" }, "Your journey's webhook posts to /v1/steps/<id>/users.")),
    h("span", { class: "label", id: "source-label" }, "Users come from"),
    h("fieldset", { "aria-labelledby": "source-label" },
      h("div", {}, fromWebhook, " ", h("label", { for: "source-webhook" }, "the step's webhook (your journey posts them)")),
      h("div", {}, fromSegment, " ", h("label", { for: "source-segment" }, "a segment: users who enter it "), segment),
      h("div", {}, backfill, " ", h("label", { for: "source-backfill" }, "also its members at launch (backfill)")),
      h("div", {}, syncExits, " ", h("label", { for: "source-sync-exits" }, "remove the users who leave it from the audience"))),
    h("label", { for: "ad-account" }, "Ad account"), h("div", {}, account,
      (connection.ad_accounts || []).length ? null : h("p", { class: "hint" }, h("a", { href: "#/connection" }, "Connect LinkedIn"), " to choose one.")),
    h("span", { class: "label", id: "audience-label" }, "Audience"),
    h("fieldset", { "aria-labelledby": "audience-label" },
      h("div", {}, kindNew, " ", h("label", { for: "audience-new" }, "A new audience named "), audienceName),
      h("div", {}, kindExisting, " ", h("label", { for: "audience-existing" }, "An existing audience, id "), audienceId)),
    h("label", { for: "action" }, "Action"), action,
    h("span", { class: "label", id: "match-label" }, "Match fields"), h("fieldset", { "aria-labelledby": "match-label" }, matchBoxes),
    h("span", { class: "label", id: "filters-label" }, "Entry filters"),
    h("div", {}, h("p", { class: "hint" }, "Consent and eligibility: a user enters only if every filter holds (e.g. ad_tracking_enabled equals true). ",
      "Values are JSON and their types count: true, 3 and \"3\" are three different values."),
      h("table", { class: "filters", "aria-labelledby": "filters-label" },
        h("thead", {}, h("tr", {}, ["Attribute", "Condition", "Value", ""].map((t) => h("th", { scope: "col" }, t)))), filterRows),
      addFilterButton),
    h("label", { for: "last-step" }, "Last step"), h("div", {}, lastStep, " ", h("span", { class: "hint" }, "Users exit the journey here (counted exited, not proceeded).")),
    h("div", { class: "full actions" }, h("button", { type: "submit" }, "Save"), h("a", { href: stepId ? `#/steps/${encodeURIComponent(stepId)}` : "#/steps" }, "Cancel")),
    h("div", { class: "full" }, feedback));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = stepId || idInput.value.trim();
    const listed = async () => (await get("/v1/steps")).steps.map((step) => step.step_id);
    await saveDefinition(feedback, { kind: "step", id, isNew: !stepId, listed, body: body() });
  });
  replace(view, h("h1", { id: "edit-title" }, stepId ? `Edit step ${stepId}` : "New step"), form);
}
