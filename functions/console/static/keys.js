// Keys: the REST API keys of the Braze-compatible API (with their permissions) and the partners' data import keys
// (contract v2 §1). A new key or secret is shown once, on creation: the stack keeps only its hash.

import { del, get, post, reasons } from "./api.js";
import { announce, h, problems, replace } from "./dom.js";
import { failed } from "./shell.js";

const PERMISSIONS = [
  ["users.track", "write profiles, events and purchases"], ["users.identify", "identify aliased users"],
  ["users.alias.new", "add aliases"], ["users.delete", "delete users"], ["users.merge", "merge users"],
  ["users.export.ids", "read profiles by id"], ["users.export.segment", "export segments"],
  ["segments.list", "list segments"], ["segments.details", "read a segment"],
  ["campaigns.list", "list campaigns"], ["campaigns.details", "read a campaign"],
];
const PARTNERS = ["segment", "amplitude", "mixpanel", "census", "hightouch", "heap", "rudderstack", "kubit"];

function shownOnce(title, secret) {
  return h("div", { class: "notice", role: "status" }, h("h2", {}, title),
    h("p", {}, "Copy it now: it is not shown again (only its hash is kept)."),
    h("pre", { "aria-label": title }, secret));
}

export async function keysScreen(view) {
  const restBox = h("div"), importBox = h("div"), created = h("div");

  async function refresh() {
    const [{ keys: restKeys }, { keys: importKeys }] = await Promise.all([get("/v1/rest-api-keys"), get("/v1/data-import-keys")]);
    const revoke = (kind, key, what) => h("button", { type: "button", class: "danger", "aria-label": `Revoke ${what}`, onclick: async () => {
      if (!window.confirm(`Revoke ${what}? Requests with it are refused within seconds.`)) return;
      try {
        await del(`/v1/${kind}/${encodeURIComponent(key.id)}`);
        announce(`${what} revoked.`);
        replace(created);
        await refresh();
      } catch (error) {
        failed(created, error);
      }
    } }, "Revoke");
    replace(restBox, restKeys.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Permissions", "Created", "Id", ""].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, restKeys.map((k) => h("tr", {}, h("td", {}, k.name), h("td", {}, k.permissions.join(", ")),
            h("td", {}, k.created_at), h("td", {}, h("code", {}, k.id)), h("td", {}, revoke("rest-api-keys", k, `key ${k.name}`))))))
      : h("p", {}, "No REST API keys yet: partners and your code call /users/track and the rest with one."));
    replace(importBox, importKeys.length
      ? h("table", {}, h("thead", {}, h("tr", {}, ["Partner", "Created", "Id", ""].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, importKeys.map((k) => h("tr", {}, h("td", {}, k.partner), h("td", {}, k.created_at),
            h("td", {}, h("code", {}, k.id)), h("td", {}, revoke("data-import-keys", k, `the ${k.partner} import key ${k.id}`))))))
      : h("p", {}, "No data import keys yet: a partner (Segment Engage, ...) sends cohorts with one."));
  }

  const keyName = h("input", { type: "text", id: "key-name", required: true });
  const boxes = PERMISSIONS.map(([value, text]) => {
    const id = `permission-${value.replaceAll(".", "-")}`;
    return h("div", {}, h("input", { type: "checkbox", id, value }), " ", h("label", { for: id }, `${value}: ${text}`));
  });
  const keyForm = h("form", { class: "grid", "aria-labelledby": "new-key-title" },
    h("label", { for: "key-name" }, "Name"), keyName,
    h("span", { class: "label", id: "permissions-label" }, "Permissions"), h("fieldset", { "aria-labelledby": "permissions-label" }, boxes),
    h("div", { class: "full actions" }, h("button", { type: "submit" }, "Create the key")));
  keyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const permissions = boxes.map((b) => b.querySelector("input")).filter((b) => b.checked).map((b) => b.value);
    try {
      const made = await post("/v1/rest-api-keys", { name: keyName.value.trim(), permissions });
      replace(created, shownOnce(`The key ${made.name}`, made.key));
      announce("Key created: copy it now.");
      keyForm.reset();
      await refresh();
    } catch (error) {
      replace(created, problems("No key was created", reasons(error)));
    }
  });
  const partner = h("select", { id: "import-partner" }, PARTNERS.map((p) => h("option", { value: p }, p)));
  const importForm = h("form", { class: "grid", "aria-labelledby": "new-import-key-title" },
    h("label", { for: "import-partner" }, "Partner"), partner,
    h("div", { class: "full actions" }, h("button", { type: "submit" }, "Create the import key")));
  importForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await post("/v1/data-import-keys", { partner: partner.value });
      replace(created, shownOnce(`The ${made.partner} client secret`, made.client_secret));
      announce("Import key created: copy it now.");
      await refresh();
    } catch (error) {
      replace(created, problems("No import key was created", reasons(error)));
    }
  });
  replace(view, h("h1", {}, "Keys"), created,
    h("h2", {}, "REST API keys"), h("p", { class: "hint" }, "Sent as Authorization: Bearer <key> to the Braze-compatible API."), restBox,
    h("h3", { id: "new-key-title" }, "New REST API key"), keyForm,
    h("h2", {}, "Data import keys"), h("p", { class: "hint" }, "A partner's client_secret for POST /partners/<partner>/cohorts."), importBox,
    h("h3", { id: "new-import-key-title" }, "New data import key"), importForm);
  await refresh();
}
