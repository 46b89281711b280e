// A line chart of a metrics history, in SVG. Why not a charting library: the console must load with no build
// step and no CDN, and charts drawn on a canvas are invisible to screen readers; an SVG with a title, a
// description and a dash pattern per line (never colour alone), and beside it a table of the same numbers, is
// about a hundred lines.

import { h, number } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const STYLES = [
  { stroke: "#0a58ca", dash: "" },
  { stroke: "#1a7f37", dash: "8 4" },
  { stroke: "#b3261e", dash: "2 3" },
  { stroke: "#6f42c1", dash: "12 4 2 4" },
  { stroke: "#9a6700", dash: "4 4" },
];

function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

function time(iso) {
  return iso.slice(11, 16); // HH:MM, UTC as the API gives it
}

// `points`: the API's [{"minute", metric: n}], oldest first; `series`: [[metric, label]]; `levels`: the metrics
// that stand at each minute's end (pending) rather than count what happened in it: described by their last value.
export function lineChart(title, points, series, levels = [], unit = "minutes") {
  const width = 720, height = 240, left = 48, right = 12, top = 12, bottom = 28;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  const most = Math.max(1, ...points.flatMap((p) => series.map(([name]) => p[name] || 0)));
  const x = (i) => left + (points.length < 2 ? plotWidth / 2 : (i * plotWidth) / (points.length - 1));
  const y = (v) => top + plotHeight - (v * plotHeight) / most;
  const last = points.length ? points[points.length - 1] : {};
  const totals = series.map(([name, label]) => levels.includes(name)
    ? `${label} ${number(last[name] || 0)} now`
    : `${label} ${number(points.reduce((sum, p) => sum + (p[name] || 0), 0))}`);
  const description = `${points.length} ${unit} from ${points.length ? time(points[0].minute) : "-"} UTC: ${totals.join(", ")}.`;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "chart-title", "aria-describedby": "chart-desc" },
    s("title", { id: "chart-title" }, title), s("desc", { id: "chart-desc" }, description));
  for (const fraction of [0, 0.5, 1]) {
    const value = Math.round(most * fraction);
    svg.append(s("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), stroke: "#d0d7de" }));
    svg.append(s("text", { x: left - 6, y: y(value) + 4, "text-anchor": "end", "font-size": 11, fill: "#57606a" }, number(value)));
  }
  const ticks = Math.min(6, points.length);
  for (let k = 0; k < ticks; k++) {
    const i = ticks < 2 ? 0 : Math.round((k * (points.length - 1)) / (ticks - 1));
    const anchor = k === 0 ? "start" : k === ticks - 1 ? "end" : "middle";
    svg.append(s("text", { x: x(i), y: height - 8, "text-anchor": anchor, "font-size": 11, fill: "#57606a" }, time(points[i].minute)));
  }
  series.forEach(([name], index) => {
    const style = STYLES[index % STYLES.length];
    const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p[name] || 0).toFixed(1)}`).join(" ");
    svg.append(s("path", { d: path, fill: "none", stroke: style.stroke, "stroke-width": 2, "stroke-dasharray": style.dash, "data-series": name }));
  });
  const legend = h("div", { class: "legend" }, series.map(([, label], index) => {
    const style = STYLES[index % STYLES.length];
    const swatch = s("svg", { viewBox: "0 0 36 10", "aria-hidden": "true" },
      s("line", { x1: 0, x2: 36, y1: 5, y2: 5, stroke: style.stroke, "stroke-width": 3, "stroke-dasharray": style.dash }));
    return h("span", {}, swatch, " ", label);
  }));
  const rows = points.filter((p) => series.some(([name]) => p[name]));
  const table = h("details", {},
    h("summary", {}, "The numbers, minute by minute"),
    rows.length
      ? h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Minute (UTC)"), series.map(([, label]) => h("th", { scope: "col", class: "num" }, label)))),
          h("tbody", {}, rows.map((p) => h("tr", {}, h("td", {}, time(p.minute)), series.map(([name]) => h("td", { class: "num" }, number(p[name] || 0)))))))
      : h("p", {}, "Nothing counted in this window yet."));
  return h("figure", { class: "chart" }, svg, legend, table);
}
