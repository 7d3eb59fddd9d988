// Small DOM helpers. Text always goes in through textContent, never HTML,
// so data from jobs (args, log lines, errors) cannot inject markup.

// h("a", {href: "#/", class: "x", onclick: fn}, "text", child, [more])
export function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
        else if (k === "class") el.className = v;
        else if (k === "text") el.textContent = v;
        else el.setAttribute(k, v === true ? "" : String(v));
    }
    add(el, kids);
    return el;
}

function add(el, kids) {
    for (const k of kids) {
        if (k === undefined || k === null || k === false) continue;
        if (Array.isArray(k)) add(el, k);
        else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
}

// Replace el's children.
export function fill(el, ...kids) {
    el.replaceChildren();
    add(el, kids);
    return el;
}

const pad = (n) => String(n).padStart(2, "0");

// A <time> in the viewer's local time; the UTC time on hover.
export function when(ms) {
    const n = Number(ms);
    if (!n) return h("span", { class: "muted" }, "—");
    const d = new Date(n);
    const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return h("time", { datetime: d.toISOString(), title: d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") },
        local);
}

// "1.2 s", "340 ms", "3 min"
export function dur(ms) {
    const n = Number(ms);
    if (!isFinite(n)) return "—";
    if (n < 1) return "< 1 ms";
    if (n < 1000) return `${Math.round(n)} ms`;
    if (n < 60000) return `${(n / 1000).toFixed(1)} s`;
    if (n < 3600000) return `${(n / 60000).toFixed(1)} min`;
    return `${(n / 3600000).toFixed(1)} h`;
}

export function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - Number(ms)) / 1000));
    return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

export function badge(state) {
    return h("span", { class: `badge st-${state || "unknown"}` }, state || "unknown");
}

// An empty state that says what to do.
export function empty(title, hint) {
    return h("div", { class: "empty", role: "status" }, h("p", { class: "empty-title" }, title),
        hint ? h("p", { class: "muted" }, hint) : null);
}

export function table(head, rows, opts) {
    return h("div", { class: "scroll" }, h("table", opts || {},
        h("thead", null, h("tr", null, head.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, rows)));
}

export function pretty(v) {
    if (typeof v === "string") {
        try { return JSON.stringify(JSON.parse(v), null, 2); } catch (e) { return v; }
    }
    return JSON.stringify(v, null, 2);
}

export function errorBox(err) {
    return h("div", { class: "error", role: "alert" }, String(err && err.message ? err.message : err));
}
