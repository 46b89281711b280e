// The LinkedIn connection: its status and ad accounts, connect (LinkedIn's consent page in a new window, then
// this screen follows the connection until it is made) and disconnect.

import { del, get } from "./api.js";
import { announce, badge, h, replace } from "./dom.js";
import { every, failed } from "./shell.js";

const FOLLOW_MS = 1500;
const FOLLOW_FOR_MS = 300_000;

export async function connectionScreen(view) {
  const feedback = h("div");
  const body = h("div");
  let following = false;

  async function render() {
    const connection = await get("/v1/connections/linkedin");
    const accounts = connection.ad_accounts || [];
    const connect = h("button", { type: "button", onclick: () => start().catch((error) => failed(feedback, error)) },
      connection.status === "connected" ? "Connect again" : "Connect LinkedIn");
    const disconnect = h("button", { type: "button", class: "danger", onclick: () => stop().catch((error) => failed(feedback, error)) }, "Disconnect");
    replace(body,
      h("p", {}, "Status: ", badge(connection.status)),
      connection.status === "invalid_token" ? h("p", {}, "LinkedIn no longer accepts the stored token: connect again.") : null,
      h("div", { class: "actions" }, connect, connection.status === "disconnected" ? null : disconnect),
      h("h2", {}, "Ad accounts"),
      accounts.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["Id", "Name", "Role"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, accounts.map((a) => h("tr", {}, h("td", {}, a.id), h("td", {}, a.name), h("td", {}, a.role)))))
        : h("p", {}, "None yet: connect LinkedIn to list the ad accounts you can sync to."));
    return connection;
  }

  async function start() {
    const { authorization_url: url } = await get("/v1/connections/linkedin/authorize?redirect=false");
    window.open(url, "linkedin-consent", "noopener");
    announce("LinkedIn's consent page opened in a new window. This page updates when the connection is made.");
    if (following) return;
    following = true;
    const until = Date.now() + FOLLOW_FOR_MS;
    every(view, FOLLOW_MS, async () => {
      const connection = await render();
      if (connection.status !== "connected" && Date.now() < until) return true;
      following = false;
      if (connection.status === "connected") announce("LinkedIn is connected.");
      return false;
    }, feedback);
  }

  async function stop() {
    if (!window.confirm("Disconnect LinkedIn? Steps stop syncing until it is connected again.")) return;
    await del("/v1/connections/linkedin");
    announce("LinkedIn is disconnected.");
    await render();
  }

  replace(view, h("h1", {}, "LinkedIn connection"), feedback, body);
  await render();
}
