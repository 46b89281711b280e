// The console's shell: sign-in, the navigation and a hash router (#/steps, #/steps/<id>, ...). Each screen is a
// function that fills <main> and may return a function that stops its refreshes when the user leaves it.

import { ApiError, call, session } from "./api.js";
import { announce, h, problems, replace } from "./dom.js";
import { connectionScreen } from "./connection.js";
import { stepScreen, stepsScreen, editStepScreen } from "./steps.js";

const ROUTES = [
  [/^#\/connection$/, () => connectionScreen],
  [/^#\/steps$/, () => stepsScreen],
  [/^#\/steps\/new$/, () => (main) => editStepScreen(main, null)],
  [/^#\/steps\/([^/]+)\/edit$/, (m) => (main) => editStepScreen(main, decodeURIComponent(m[1]))],
  [/^#\/steps\/([^/]+)$/, (m) => (main) => stepScreen(main, decodeURIComponent(m[1]))],
];

let leave = null;

async function show() {
  const main = document.getElementById("main");
  if (leave) leave();
  leave = null;
  const signedIn = Boolean(session.key());
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  if (!signedIn) {
    signInScreen(main);
    return;
  }
  const hash = location.hash || "#/steps";
  for (const [pattern, screen] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      for (const link of document.querySelectorAll("#nav a")) {
        link.toggleAttribute("aria-current", hash.startsWith(link.getAttribute("href")));
        if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
      }
      try {
        leave = (await screen(match)(main)) || null;
      } catch (error) {
        failed(main, error);
      }
      main.focus();
      return;
    }
  }
  replace(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/steps" }, "Back to the sync steps")));
}

export function failed(main, error) {
  console.error("screen failed", error);
  if (error instanceof ApiError && error.status === 403) {
    session.signOut();
    show();
    announce("The API key was refused: sign in again.");
    return;
  }
  replace(main, problems("Something went wrong", error instanceof ApiError ? error.lines() : [String(error)]));
}

function signInScreen(main) {
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
      replace(feedback, problems("Could not sign in", [error instanceof ApiError && error.status === 403 ? "That key was refused." : String(error.message || error)]));
      return;
    }
    session.signIn(key);
    announce("Signed in.");
    show();
  });
  replace(main, h("h1", { id: "sign-in-title" }, "Sign in"), form);
  input.focus();
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.signOut();
  announce("Signed out.");
  location.hash = "";
  show();
});
window.addEventListener("hashchange", show);
show();
