// Elements built with the DOM, never from HTML strings: names and ids typed by users are text, not markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

export function announce(text) {
  // The status region is read out by screen readers; what changed is said, not only shown.
  document.getElementById("status").textContent = text;
}

export function problems(title, items) {
  return h("div", { class: "problems", role: "alert" }, h("h2", {}, title), h("ul", {}, items.map((item) => h("li", {}, item))));
}

export function badge(value) {
  return h("span", { class: `badge ${value}` }, String(value).replaceAll("_", " "));
}

export function number(n) {
  return new Intl.NumberFormat("en-US").format(n);
}

// A select's options: a placeholder, then [value, text] choices, with the stored value kept (and said missing) when
// it is not among them: a definition may name a segment, cohort, step or campaign that does not exist (yet), and
// saving the form must neither drop nor change it silently.
export function options(choices, stored, placeholder) {
  const known = choices.some(([value]) => value === stored);
  return [h("option", { value: "" }, placeholder),
    !stored || known ? null : h("option", { value: stored, selected: true }, `${stored} (not found)`),
    choices.map(([value, text]) => h("option", { value, selected: value === stored }, text))];
}

// Rebuilds `box` with `build()`, keeping what the user had open or focused in it: a refresh every few seconds must
// not close a table the user opened nor throw the keyboard's focus back to the top of the page. <details> are
// matched by their summary's text, the focus by the element's position among the box's summaries and controls.
export function rebuild(box, build) {
  const opened = new Set([...box.querySelectorAll("details[open] > summary")].map((summary) => summary.textContent));
  const focusable = () => [...box.querySelectorAll("summary, a, button, input, select, textarea")];
  const focused = focusable().indexOf(document.activeElement);
  replace(box, build());
  for (const details of box.querySelectorAll("details")) {
    const summary = details.querySelector("summary");
    if (summary && opened.has(summary.textContent)) details.open = true;
  }
  if (focused >= 0) focusable()[focused]?.focus();
}
