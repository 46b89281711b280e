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
