// The management API, called with the key the user signed in with. The key lives in this tab's session storage
// only: closing the tab forgets it, and it is never written anywhere else.

const KEY = "audience-sync.api-key";
// The API is beside the console: .../console/index.html -> .../v1/ (a stage prefix on AWS, none in local mode).
const BASE = new URL("../", document.baseURI);

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || (body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || String(status);
    this.details = error.details || [];
  }

  // Every problem the API listed, as sentences.
  lines() {
    const where = (d) => d.field || (Array.isArray(d.loc) ? d.loc.filter((part) => part !== "body").join(".") : "");
    const details = this.details.map((d) => [where(d), d.message || d.code].filter(Boolean).join(": "));
    return details.length ? details : [this.message];
  }
}

// What went wrong, as sentences: every problem an API error listed, or the error's message.
export function reasons(error) {
  return error instanceof ApiError ? error.lines() : [String((error && error.message) || error)];
}

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};

export async function call(method, path, body, key = session.key()) {
  const headers = { "x-api-key": key || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const reply = await fetch(new URL(path.replace(/^\//, ""), BASE), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await reply.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: { message: text.slice(0, 200) } };
  }
  if (!reply.ok) throw new ApiError(reply.status, data);
  return data;
}

export const get = (path) => call("GET", path);
export const put = (path, body) => call("PUT", path, body);
export const post = (path, body) => call("POST", path, body);
export const del = (path) => call("DELETE", path);
