// The console's shell: sign-in, the navigation and a hash router (#/steps, #/steps/<id>, ...).
//
// Each navigation gets a view of its own: a fresh element put in <main>, which the screen fills. A screen still
// loading when the user moves on draws into its view, by then detached, so it never paints over the next screen;
// its refreshes stop when its view is no longer in the page (shell.js `every`), and the function it returns (if
// any) is called on leaving.

import { ApiError, call, session } from "./api.js";
import { announce, h, problems, replace } from "./dom.js";
import { failed } from "./shell.js";
import { connectionScreen } from "./connection.js";
import { stepScreen, stepsScreen, editStepScreen } from "./steps.js";
import { editSegmentScreen, segmentScreen, segmentsScreen } from "./segments.js";
import { campaignScreen, campaignsScreen, editCampaignScreen } from "./campaigns.js";
import { exportScreen, exportsScreen } from "./exports.js";
import { editImportScreen, importScreen, importsScreen } from "./imports.js";
import { keysScreen } from "./keys.js";

// A new thing's editor is at "+new": "+" is in no id (ids are A-Z a-z 0-9 _ . : -), so a step named "new" opens.
const ROUTES = [
  [/^#\/connection$/, () => connectionScreen],
  [/^#\/steps$/, () => stepsScreen],
  [/^#\/steps\/\+new$/, () => (view) => editStepScreen(view, null)],
  [/^#\/steps\/([^/]+)\/edit$/, (m) => (view) => editStepScreen(view, decodeURIComponent(m[1]))],
  [/^#\/steps\/([^/]+)$/, (m) => (view) => stepScreen(view, decodeURIComponent(m[1]))],
  [/^#\/segments$/, () => segmentsScreen],
  [/^#\/segments\/\+new$/, () => (view) => editSegmentScreen(view, null)],
  [/^#\/segments\/([^/]+)\/edit$/, (m) => (view) => editSegmentScreen(view, decodeURIComponent(m[1]))],
  [/^#\/segments\/([^/]+)\/export$/, (m) => (view) => exportsScreen(view, decodeURIComponent(m[1]))],
  [/^#\/segments\/([^/]+)$/, (m) => (view) => segmentScreen(view, decodeURIComponent(m[1]))],
  [/^#\/campaigns$/, () => campaignsScreen],
  [/^#\/campaigns\/\+new$/, () => (view) => editCampaignScreen(view, null)],
  [/^#\/campaigns\/([^/]+)\/edit$/, (m) => (view) => editCampaignScreen(view, decodeURIComponent(m[1]))],
  [/^#\/campaigns\/([^/]+)$/, (m) => (view) => campaignScreen(view, decodeURIComponent(m[1]))],
  [/^#\/exports$/, () => (view) => exportsScreen(view)],
  [/^#\/exports\/([^/]+)$/, (m) => (view) => exportScreen(view, decodeURIComponent(m[1]))],
  [/^#\/imports$/, () => importsScreen],
  [/^#\/imports\/\+new$/, () => (view) => editImportScreen(view, null)],
  [/^#\/imports\/([^/]+)\/edit$/, (m) => (view) => editImportScreen(view, decodeURIComponent(m[1]))],
  [/^#\/imports\/([^/]+)$/, (m) => (view) => importScreen(view, decodeURIComponent(m[1]))],
  [/^#\/keys$/, () => keysScreen],
];

let leave = null;
let navigation = 0;

async function show() {
  const main = document.getElementById("main");
  if (leave) leave();
  leave = null;
  const current = ++navigation;
  const view = h("div");
  replace(main, view);
  const signedIn = Boolean(session.key());
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  if (!signedIn) {
    signInScreen(view);
    return;
  }
  const hash = location.hash.startsWith("#/") ? location.hash : "#/steps";
  const route = ROUTES.find(([pattern]) => pattern.test(hash));
  const section = /^#\/segments\/[^/]+\/export$/.test(hash) ? "#/exports" : hash; // a segment's export is an export
  for (const link of document.querySelectorAll("#nav a")) {
    if (section.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!route) {
    replace(view, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/steps" }, "Back to the sync steps")));
    return;
  }
  try {
    const stop = (await route[1](hash.match(route[0]))(view)) || null;
    if (current === navigation) leave = stop;
    else if (stop) stop(); // left while it loaded
  } catch (error) {
    if (current === navigation) failed(view, error);
  }
  if (current === navigation) main.focus();
}

function signInScreen(view) {
  const input = h("input", { type: "password", id: "api-key", name: "api-key", autocomplete: "off", required: true });
  const feedback = h("div");
  const form = h("form", { class: "grid", "aria-labelledby": "sign-in-title" },
    h("label", { for: "api-key" }, "Management API key"),
    h("div", {}, input, h("p", { class: "hint" }, "The x-api-key of this stack (in local mode, API_KEY). Kept in this browser tab only.")),
    h("div", { class: "full actions" }, h("button", { type: "submit" }, "Sign in")),
    h("div", { class: "full" }, feedback));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    try {
      await call("GET", "/v1/connections/linkedin", undefined, key);
    } catch (error) {
      const refused = error instanceof ApiError && error.status === 403;
      replace(feedback, problems("Could not sign in", [refused ? "That key was refused." : String(error.message || error)]));
      return;
    }
    session.signIn(key);
    announce("Signed in.");
    show();
  });
  replace(view, h("h1", { id: "sign-in-title" }, "Sign in"), form);
  input.focus();
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.signOut();
  announce("Signed out.");
  history.replaceState(null, "", location.pathname); // no hashchange: one render below
  show();
});
// The skip link moves the focus; it is not a route.
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
window.addEventListener("hashchange", show);
window.addEventListener("console:signed-out", show);
show();
