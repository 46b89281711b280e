// What every screen shares: refreshing while it is shown, and reporting what failed.

import { ApiError, put, reasons, session } from "./api.js";
import { announce, problems, replace } from "./dom.js";

// Runs `refresh` every `ms` while `view` is in the page, one run at a time (a slow one is never overlapped), until
// it returns false. A failure is shown in `box` (a refused key signs out) and the refreshes go on.
export function every(view, ms, refresh, box = view) {
  const next = () => setTimeout(async () => {
    if (!view.isConnected) return;
    let more = true;
    try {
      more = (await refresh()) !== false;
    } catch (error) {
      if (view.isConnected) failed(box, error);
    }
    if (more && view.isConnected) next();
  }, ms);
  next();
}

// A screen or an action that failed: a refused key signs out (the shell shows the sign-in); anything else is
// listed in `box`, where it happened.
export function failed(box, error) {
  console.error("console: failed", error);
  if (error instanceof ApiError && error.status === 403) {
    session.signOut();
    announce("The API key was refused: sign in again.");
    window.dispatchEvent(new Event("console:signed-out"));
    return;
  }
  replace(box, problems("Something went wrong", reasons(error)));
}

// An editor's Save: PUT `body` at `/v1/<kind>s/<id>`, then to the thing's screen. A new one (`isNew`) never replaces
// one with its id: the list is read first (a GET of the id would be a 404 in the browser's console). The API's
// objections are listed in `feedback`, as `lines` words them.
export async function saveDefinition(feedback, { kind, id, isNew, listed, body, lines = reasons }) {
  const path = `/v1/${kind}s/${encodeURIComponent(id)}`;
  try {
    if (isNew && (await listed()).includes(id)) {
      replace(feedback, problems(`The ${kind} was not saved`, [`A ${kind} ${id} exists already: open it to edit it.`]));
      return;
    }
    await put(path, body);
  } catch (error) {
    replace(feedback, problems(`The ${kind} was not saved`, lines(error)));
    return;
  }
  announce(`${kind[0].toUpperCase()}${kind.slice(1)} ${id} saved.`);
  location.hash = `#/${kind}s/${encodeURIComponent(id)}`;
}
