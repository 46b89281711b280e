// Campaigns: the list, the composer (a webhook with a Liquid preview for a chosen user, or entry into a sync step;
// API or action delivery: the trigger, a delay, exceptions, re-eligibility, a window; audience, control group, rate
// limit) and the campaign's screen (publish or stop, its metrics and their chart, sending an API campaign).
// Contract v2 §6, docs/campaigns.md.

import { ApiError, get, post, reasons } from "./api.js";
import { announce, badge, h, number, options, problems, rebuild, replace } from "./dom.js";
import { lineChart } from "./chart.js";
import { every, failed, saveDefinition } from "./shell.js";

const METHODS = ["POST", "PUT", "GET", "DELETE"];
const INTERACTIONS = [
  "received_webhook", "enrolled_in_control_group", "email_received", "email_opened", "email_clicked",
  "email_alias_clicked", "push_received", "push_opened", "push_button_clicked", "push_story_page_clicked",
  "iam_viewed", "iam_clicked", "iam_button_clicked", "sms_received", "sms_link_clicked", "content_card_viewed",
  "content_card_clicked", "content_card_dismissed", "conversion_performed",
];
const METRICS = [
  ["triggered", "Triggered"], ["scheduled", "Waiting out the delay"], ["sent", "Sent"], ["delivered", "Delivered"],
  ["failed", "Failed"], ["aborted", "Aborted"], ["control", "Control group"], ["exception_cancelled", "Cancelled by an exception"],
];
const REFRESH_MS = 5000;
const TAGS = "{{${first_name}}}, {{${email_address}}}, {{custom_attribute.${tier}}}, {{event_properties.${plan}}}, "
  + "{{api_trigger_properties.${coupon}}}, {{campaign.${dispatch_id}}}, {% abort_message('why') %}";

const campaignPath = (id) => `/v1/campaigns/${encodeURIComponent(id)}`;

function describeTrigger(trigger) {
  if (trigger.custom_event !== undefined) return `custom event ${trigger.custom_event}${(trigger.property_filters || []).length ? " (filtered)" : ""}`;
  if (trigger.purchase !== undefined) return trigger.purchase === "*" ? "any purchase" : `purchase of ${trigger.purchase}`;
  return `${trigger.interaction.type.replaceAll("_", " ")} of campaign ${trigger.interaction.campaign_id}`;
}

function describeDelivery(delivery) {
  if (delivery.type === "api") return "by API";
  const delay = delivery.delay_seconds ? `, after ${number(delivery.delay_seconds)} s` : "";
  return `on ${describeTrigger(delivery.trigger)}${delay}`;
}

export async function campaignsScreen(view) {
  const { campaigns } = await get("/v1/campaigns");
  replace(view,
    h("h1", {}, "Campaigns"),
    h("div", { class: "actions" }, h("a", { href: "#/campaigns/+new" }, "New campaign")),
    campaigns.length
      ? h("table", {},
          h("thead", {}, h("tr", {}, ["Campaign", "Name", "Status", "Sends", "Delivery"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, campaigns.map((c) => h("tr", {},
            h("td", {}, h("a", { href: `#/campaigns/${encodeURIComponent(c.campaign_id)}` }, c.campaign_id)),
            h("td", {}, c.name), h("td", {}, badge(c.status)),
            h("td", {}, c.message.channel === "webhook" ? `a webhook (${c.message.method || "POST"})` : `users into step ${c.message.step_id}`),
            h("td", {}, describeDelivery(c.delivery))))))
      : h("p", {}, "No campaigns yet. A campaign sends a webhook (or puts users into a sync step) when its trigger fires or when the API asks."));
}

export async function campaignScreen(view, campaignId) {
  const path = campaignPath(campaignId);
  const status = h("p"), cards = h("div", { class: "cards" }), chartBox = h("div");
  const feedback = h("div"), refreshProblem = h("div"), definition = h("pre");
  const publishButton = h("button", { type: "button", hidden: true, onclick: () => move("publish") }, "Publish");
  const stopButton = h("button", { type: "button", class: "danger", hidden: true, onclick: () => move("stop") }, "Stop");
  const sendBox = h("div");
  let campaign = null;
  let moving = false;

  async function refresh() {
    const [current, metrics, history] = await Promise.all([get(path), get(`${path}/metrics`), get(`${path}/metrics/history?minutes=60`)]);
    campaign = current;
    replace(refreshProblem);
    replace(status, "Status: ", badge(current.status),
      current.published_at ? ` · published ${current.published_at}` : "", current.stopped_at ? ` · stopped ${current.stopped_at}` : "");
    publishButton.hidden = current.status === "active";
    stopButton.hidden = current.status !== "active";
    publishButton.disabled = stopButton.disabled = moving;
    sendBox.hidden = current.delivery.type !== "api" || current.status !== "active";
    replace(cards, METRICS.map(([name, label]) =>
      h("div", { class: "card" }, h("div", { class: "value", "data-metric": name }, number(metrics[name] || 0)), h("div", { class: "label" }, label))));
    rebuild(chartBox, () => lineChart(`Campaign ${campaignId}, the last hour`, history.points,
      [["triggered", "Triggered"], ["delivered", "Delivered"], ["failed", "Failed"], ["scheduled", "Waiting (at the minute's end)"]], ["scheduled"]));
    definition.textContent = JSON.stringify(current, null, 2);
  }

  async function move(action) {
    moving = true;
    publishButton.disabled = stopButton.disabled = true;
    try {
      await post(`${path}/${action}`);
      replace(feedback, h("div", { class: "notice", role: "status" }, action === "publish" ? "Published: the campaign is active." : "Stopped: nothing more is sent."));
      announce(action === "publish" ? "The campaign is published." : "The campaign is stopped.");
      await refresh();
    } catch (error) {
      if (error instanceof ApiError && (error.status === 422 || error.status === 409)) {
        replace(feedback, problems(action === "publish" ? "The campaign cannot be published" : "The campaign cannot be stopped", error.lines()));
      } else {
        failed(feedback, error);
      }
    } finally {
      moving = false;
      publishButton.disabled = stopButton.disabled = false;
    }
  }

  // An API campaign is sent from here as from POST /v1/campaigns/{id}/trigger.
  const recipients = h("input", { type: "text", id: "send-recipients" });
  const triggerProperties = h("textarea", { id: "send-properties", rows: 3, spellcheck: "false" }, "{}");
  const sendResult = h("div");
  const sendForm = h("form", { class: "grid", "aria-labelledby": "send-title" },
    h("label", { for: "send-recipients" }, "Recipients"), h("div", {}, recipients, h("p", { class: "hint" }, "External ids, separated by commas (up to 50).")),
    h("label", { for: "send-properties" }, "Trigger properties (JSON)"), triggerProperties,
    h("div", { class: "full actions" }, h("button", { type: "submit" }, "Send now")),
    h("div", { class: "full" }, sendResult));
  sendForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    let properties;
    try {
      properties = JSON.parse(triggerProperties.value || "{}");
    } catch (error) {
      replace(sendResult, problems("The trigger properties are not valid JSON", [String(error.message || error)]));
      return;
    }
    const ids = recipients.value.split(",").map((id) => id.trim()).filter(Boolean);
    try {
      const sent = await post(`${path}/trigger`, { recipients: ids.map((external_id) => ({ external_id, trigger_properties: properties })) });
      replace(sendResult, h("div", { class: "notice", role: "status" },
        `Queued ${number(sent.queued)} · control ${number(sent.control)} · aborted ${number(sent.aborted)} · failed ${number(sent.failed)} · `
        + `not in the audience ${number(sent.not_in_audience)} · unknown users ${number(sent.unknown_users)} (dispatch ${sent.dispatch_id}).`));
      announce(`Sent: ${sent.queued} queued.`);
    } catch (error) {
      replace(sendResult, problems("Nothing was sent", reasons(error)));
    }
  });
  replace(sendBox, h("h2", { id: "send-title" }, "Send to users"), sendForm);

  replace(view, h("h1", {}, `Campaign ${campaignId}`), status,
    h("div", { class: "actions" }, h("a", { href: `#/campaigns/${encodeURIComponent(campaignId)}/edit` }, "Edit"), publishButton, stopButton),
    feedback, refreshProblem, h("h2", {}, "Metrics"), cards,
    h("p", { class: "hint" }, "Sent counts first attempts; delivered a 2xx reply; failed what was given up (3xx included); aborted an abort_message, or a user no longer in the audience at send time. Refreshed every 5 seconds."),
    h("h2", {}, "Over time"), chartBox, sendBox, h("h2", {}, "Definition"), definition);
  await refresh();
  every(view, REFRESH_MS, refresh, refreshProblem);
}

// One trigger (the delivery's or an exception's): a custom event with property filters, a purchase, or an
// interaction with another campaign. Returns its element and a function reading the trigger it describes.
function triggerEditor(label, trigger, campaigns) {
  const kindOf = (t) => (t.purchase !== undefined ? "purchase" : t.interaction ? "interaction" : "custom_event");
  const kind = h("select", { "aria-label": `${label} kind` },
    [["custom_event", "Custom event"], ["purchase", "Purchase"], ["interaction", "Interaction with a campaign"]]
      .map(([v, t]) => h("option", { value: v, selected: kindOf(trigger) === v }, t)));
  const name = h("input", { type: "text", "aria-label": `${label} event name or product id (* for any)`,
    value: trigger.custom_event ?? trigger.purchase ?? "", placeholder: "event name, or product id" });
  const filters = h("input", { type: "text", "aria-label": `${label} property filters (JSON list, optional)`,
    value: (trigger.property_filters || []).length ? JSON.stringify(trigger.property_filters) : "",
    placeholder: 'property filters: [{"property": "plan", "op": "eq", "value": "gold"}]' });
  const other = h("select", { "aria-label": `${label} campaign` },
    options(campaigns.map((c) => [c.campaign_id, `${c.name} (${c.campaign_id})`]), trigger.interaction && trigger.interaction.campaign_id, "Choose a campaign"));
  const type = h("select", { "aria-label": `${label} interaction` },
    INTERACTIONS.map((i) => h("option", { value: i, selected: trigger.interaction && trigger.interaction.type === i }, i.replaceAll("_", " "))));
  const eventPart = h("span", {}, name, " ", filters), interactionPart = h("span", {}, other, " ", type);
  const sync = () => {
    eventPart.hidden = kind.value === "interaction";
    filters.hidden = kind.value !== "custom_event";
    interactionPart.hidden = kind.value !== "interaction";
  };
  kind.addEventListener("change", sync);
  sync();
  const element = h("span", { class: "trigger" }, kind, " ", eventPart, interactionPart);
  const read = () => {
    if (kind.value === "interaction") return { interaction: { campaign_id: other.value, type: type.value } };
    if (kind.value === "purchase") return { purchase: name.value };
    const event = { custom_event: name.value };
    if (filters.value.trim()) event.property_filters = JSON.parse(filters.value);
    return event;
  };
  return { element, read };
}

export async function editCampaignScreen(view, campaignId) {
  const [existing, { campaigns }, { segments }, { steps }] = await Promise.all([
    campaignId ? get(campaignPath(campaignId)) : Promise.resolve(null),
    get("/v1/campaigns"), get("/v1/segments"), get("/v1/steps"),
  ]);
  const others = campaigns.filter((c) => c.campaign_id !== campaignId);
  const stored = existing || { message: { channel: "webhook", method: "POST", headers: {}, body: "" }, delivery: { type: "api" } };
  const message = stored.message, delivery = stored.delivery;
  const radio = (name, id, value, checked) => h("input", { type: "radio", name, id, value, checked });
  const labelled = (input, text) => h("div", {}, input, " ", h("label", { for: input.id }, text));

  const idInput = h("input", { type: "text", id: "campaign-id", required: true, value: campaignId || "", disabled: Boolean(campaignId) });
  const name = h("input", { type: "text", id: "campaign-name", required: true, value: stored.name || "" });
  // the message
  const asWebhook = radio("channel", "channel-webhook", "webhook", message.channel === "webhook");
  const asStep = radio("channel", "channel-step", "audience_sync", message.channel === "audience_sync");
  const url = h("input", { type: "text", id: "webhook-url", value: message.url || "", spellcheck: "false" });
  const method = h("select", { id: "webhook-method" }, METHODS.map((m) => h("option", { value: m, selected: (message.method || "POST") === m }, m)));
  const headerRows = h("tbody");
  const addHeaderButton = h("button", { type: "button", class: "secondary", onclick: () => addHeader() }, "Add a header");
  let headersAdded = 0; // numbers rows for their labels; never reused, so no two rows share a name
  const addHeader = (headerName = "", value = "") => {
    const n = ++headersAdded;
    const row = h("tr", {}, h("td", {}, h("input", { type: "text", value: headerName, "aria-label": `Header ${n} name` })),
      h("td", {}, h("input", { type: "text", value, "aria-label": `Header ${n} value` })),
      h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => { row.remove(); addHeaderButton.focus(); }, "aria-label": `Remove header ${n}` }, "Remove")));
    headerRows.append(row);
  };
  Object.entries(message.headers || {}).forEach(([k, v]) => addHeader(k, v));
  const body = h("textarea", { id: "webhook-body", rows: 8, spellcheck: "false" }, message.body || "");
  // a campaign puts users into a step its webhook feeds; a step that follows a segment takes none (publish says so)
  const fedByWebhook = steps.filter((s) => !s.config.source || s.config.source.type !== "segment");
  const step = h("select", { id: "campaign-step" }, options(fedByWebhook.map((s) => [s.step_id, s.step_id]), message.step_id, "Choose a sync step"));
  const webhookBox = h("div", { class: "grid-inner" },
    h("div", {}, h("label", { for: "webhook-url" }, "URL"), h("br"), url),
    h("div", {}, h("label", { for: "webhook-method" }, "Method"), " ", method),
    h("div", {}, h("span", { class: "label", id: "headers-label" }, "Headers"),
      h("table", { class: "filters", "aria-labelledby": "headers-label" }, h("thead", {}, h("tr", {}, ["Name", "Value", ""].map((t) => h("th", { scope: "col" }, t)))), headerRows),
      addHeaderButton),
    h("div", {}, h("label", { for: "webhook-body" }, "Body"), h("br"), body,
      h("p", { class: "hint" }, "Liquid with Braze's tags in the URL, headers and body: ", h("code", {}, TAGS), ".")));
  const stepBox = h("div", {}, h("label", { for: "campaign-step" }, "Users enter the step "), step);
  // the preview: the draft as it is in the form, rendered for one user
  const previewUser = h("input", { type: "text", id: "preview-user" });
  const previewTrigger = h("input", { type: "text", id: "preview-trigger", value: "{}", spellcheck: "false" });
  const previewEvent = h("input", { type: "text", id: "preview-event", value: "{}", spellcheck: "false" });
  const previewResult = h("div", { "aria-live": "polite" });
  for (const input of [previewUser, previewTrigger, previewEvent]) {
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault(); // Enter here previews: it must not save (the fields are inside the campaign's form)
      preview();
    });
  }
  const previewBox = h("fieldset", { class: "preview" }, h("legend", {}, "Preview for one user"),
    h("div", {}, h("label", { for: "preview-user" }, "External id "), previewUser),
    h("div", {}, h("label", { for: "preview-trigger" }, "Trigger properties (JSON) "), previewTrigger),
    h("div", {}, h("label", { for: "preview-event" }, "Event properties (JSON) "), previewEvent),
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => preview() }, "Preview")),
    previewResult);
  // the audience and the delivery
  const audience = h("select", { id: "campaign-audience" },
    options(segments.map((s) => [s.id, `${s.name} (${s.id})`]), stored.audience && stored.audience.segment_id, "Everybody"));
  const byApi = radio("delivery", "delivery-api", "api", delivery.type === "api");
  const byAction = radio("delivery", "delivery-action", "action", delivery.type === "action");
  const trigger = triggerEditor("Trigger", delivery.trigger || { custom_event: "" }, others);
  const delay = h("input", { type: "number", id: "delay", min: 0, value: delivery.delay_seconds ?? 0 });
  const exceptionRows = h("div", { class: "conditions" });
  const exceptions = [];
  let exceptionsAdded = 0;
  const addExceptionButton = h("button", { type: "button", class: "secondary", onclick: () => addException() }, "Add an exception");
  const addException = (value = { custom_event: "" }) => {
    const n = ++exceptionsAdded;
    const editor = triggerEditor(`Exception ${n}`, value, others);
    const row = h("div", { class: "condition" }, editor.element,
      h("button", { type: "button", class: "secondary", "aria-label": `Remove exception ${n}`, onclick: () => {
        row.remove();
        exceptions.splice(exceptions.indexOf(editor), 1);
        addExceptionButton.focus(); // the focus had been on the button just removed
      } }, "Remove"));
    exceptions.push(editor);
    exceptionRows.append(row);
  };
  (delivery.exceptions || []).forEach(addException);
  const reeligible = h("input", { type: "number", id: "reeligible", min: 0, value: delivery.reeligible_after_seconds ?? "" });
  const startAt = h("input", { type: "text", id: "start-at", value: delivery.start_at || "", placeholder: "2026-12-24T09:00:00Z" });
  const endAt = h("input", { type: "text", id: "end-at", value: delivery.end_at || "", placeholder: "2026-12-31T23:59:59Z" });
  const actionBox = h("div", {},
    h("div", {}, h("span", { class: "label" }, "When "), trigger.element),
    h("div", {}, h("label", { for: "delay" }, "Delay (seconds) "), delay),
    h("div", {}, h("span", { class: "label", id: "exceptions-label" }, "Exceptions"),
      h("p", { class: "hint" }, "A user who does one of these while waiting out the delay is not sent the message."),
      exceptionRows, addExceptionButton),
    h("div", {}, h("label", { for: "reeligible" }, "Re-eligible after (seconds; empty: never) "), reeligible),
    h("div", {}, h("label", { for: "start-at" }, "Starts at (ISO 8601, optional) "), startAt),
    h("div", {}, h("label", { for: "end-at" }, "Ends at (ISO 8601, optional) "), endAt));
  const control = h("input", { type: "number", id: "control", min: 0, max: 50, value: stored.control_group_percent ?? 0 });
  const rate = h("input", { type: "number", id: "rate", min: 10, value: stored.rate_limit_per_minute ?? "" });
  const feedback = h("div");

  const sync = () => {
    webhookBox.hidden = previewBox.hidden = !asWebhook.checked;
    stepBox.hidden = !asStep.checked;
    actionBox.hidden = !byAction.checked;
  };
  for (const input of [asWebhook, asStep, byApi, byAction]) input.addEventListener("change", sync);

  function webhook() {
    const headers = {};
    for (const row of headerRows.children) {
      const [headerName, value] = row.querySelectorAll("input");
      if (headerName.value.trim()) headers[headerName.value.trim()] = value.value;
    }
    return { channel: "webhook", url: url.value.trim(), method: method.value, headers, body: body.value };
  }

  function definition() {
    const chosen = { name: name.value.trim(), message: asWebhook.checked ? webhook() : { channel: "audience_sync", step_id: step.value } };
    if (audience.value) chosen.audience = { segment_id: audience.value };
    if (byApi.checked) {
      chosen.delivery = { type: "api" };
    } else {
      chosen.delivery = { type: "action", trigger: trigger.read(), delay_seconds: Number(delay.value || 0), exceptions: exceptions.map((e) => e.read()) };
      if (reeligible.value !== "") chosen.delivery.reeligible_after_seconds = Number(reeligible.value);
      if (startAt.value.trim()) chosen.delivery.start_at = startAt.value.trim();
      if (endAt.value.trim()) chosen.delivery.end_at = endAt.value.trim();
    }
    chosen.control_group_percent = Number(control.value || 0);
    if (rate.value !== "") chosen.rate_limit_per_minute = Number(rate.value);
    return chosen;
  }

  async function preview() {
    const id = campaignId || idInput.value.trim() || "draft";
    let request;
    try {
      request = { external_id: previewUser.value.trim(), message: webhook(),
        trigger_properties: JSON.parse(previewTrigger.value || "{}"), event_properties: JSON.parse(previewEvent.value || "{}") };
    } catch (error) {
      replace(previewResult, problems("The properties are not valid JSON", [String(error.message || error)]));
      return;
    }
    try {
      const shown = await post(`${campaignPath(id)}/preview`, request);
      replace(previewResult, shown.aborted
        ? h("div", { class: "notice", role: "status" }, `Aborted for this user${shown.abort_message ? `: ${shown.abort_message}` : ""} (nothing would be sent).`)
        : h("div", { class: "rendered", role: "status" }, h("p", {}, h("strong", {}, `${shown.method} `), h("code", {}, shown.url)),
            Object.keys(shown.headers).length ? h("pre", { "aria-label": "Rendered headers" }, Object.entries(shown.headers).map(([k, v]) => `${k}: ${v}`).join("\n")) : null,
            shown.method === "GET" ? null : h("pre", { "aria-label": "Rendered body" }, shown.body)));
    } catch (error) {
      replace(previewResult, problems("No preview", reasons(error)));
    }
  }

  const form = h("form", { class: "grid", "aria-labelledby": "campaign-title" },
    h("label", { for: "campaign-id" }, "Campaign id"), idInput,
    h("label", { for: "campaign-name" }, "Name"), name,
    h("span", { class: "label", id: "message-label" }, "Message"),
    h("div", {}, h("fieldset", { "aria-labelledby": "message-label" },
      labelled(asWebhook, "Send a webhook"), labelled(asStep, "Put the users into a sync step")), webhookBox, stepBox, previewBox),
    h("label", { for: "campaign-audience" }, "Audience"), h("div", {}, audience,
      h("p", { class: "hint" }, "Checked when a user is triggered and again when the message is sent.")),
    h("span", { class: "label", id: "delivery-label" }, "Delivery"),
    h("div", {}, h("fieldset", { "aria-labelledby": "delivery-label" },
      labelled(byApi, "By API (Send to users, or POST /v1/campaigns/{id}/trigger)"), labelled(byAction, "Action-based: when users do something")), actionBox),
    h("label", { for: "control" }, "Control group (%)"), control,
    h("label", { for: "rate" }, "Rate limit (a minute)"), h("div", {}, rate, h("p", { class: "hint" }, "At most this many webhooks a minute (10 or more; empty: no limit of its own).")),
    h("div", { class: "full actions" }, h("button", { type: "submit" }, "Save"),
      h("a", { href: campaignId ? `#/campaigns/${encodeURIComponent(campaignId)}` : "#/campaigns" }, "Cancel")),
    h("div", { class: "full" }, feedback));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = campaignId || idInput.value.trim();
    let chosen;
    try {
      chosen = definition();
    } catch (error) {
      replace(feedback, problems("A property filter is not valid JSON", [String(error.message || error)]));
      return;
    }
    const listed = async () => (await get("/v1/campaigns")).campaigns.map((c) => c.campaign_id);
    await saveDefinition(feedback, { kind: "campaign", id, isNew: !campaignId, listed, body: chosen });
  });
  replace(view, h("h1", { id: "campaign-title" }, campaignId ? `Edit campaign ${campaignId}` : "New campaign"), form);
  sync();
}
