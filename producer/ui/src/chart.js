// Small SVG column charts: two stacked series (processed and failed per
// minute) for the overview, and one series with its peaks (a container's
// CPU or memory per bucket) for the fleet. Sizes are SVG attributes, so the
// strict CSP (no inline styles) holds.
import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 600, H = 120; // the view box; the CSS scales it to the page

function s(tag, attrs) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
}

function frame(label) {
    return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label,
                      preserveAspectRatio: "none" });
}

// Slot i of n: its x and width (thin bars, as 720 hours, touch).
function slot(i, n) {
    const bw = W / n, gap = bw > 4 ? 1 : 0;
    return { x: i * bw + gap, w: Math.max(bw - 2 * gap, 0.8) };
}

// points: [{ok, failed}] oldest first, one per bucket; `unit` names a
// bucket ("minute", "hour") for the caption.
export function columns(points, label, unit = "minute") {
    const n = Math.max(points.length, 30);
    const max = Math.max(1, ...points.map((p) => p.ok + p.failed));
    const svg = frame(label);
    points.forEach((p, i) => {
        if (!p.ok && !p.failed) return;
        const { x, w } = slot(n - points.length + i, n);
        const ho = (p.ok / max) * (H - 4), hf = (p.failed / max) * (H - 4);
        svg.append(s("rect", { x, y: H - ho - hf, width: w, height: ho, class: "bar-ok" }));
        if (hf) svg.append(s("rect", { x, y: H - hf, width: w, height: hf, class: "bar-failed" }));
    });
    const last = points[points.length - 1];
    return h("figure", { class: "chart-box" }, svg,
        h("figcaption", { class: "muted" }, `${label}; scale 0–${max}`,
          last ? ` · this ${unit}: ${last.ok} succeeded, ${last.failed} failed` : ""));
}

// One series over the `n` buckets of `step` s that end with the one
// holding `now` (s): points [{t (bucket start, s), v, peak}] oldest first,
// only buckets with samples (v null: no value in it). A column per value
// and a tick at its peak; `fmt` writes a value, `top` is the least scale
// (e.g. the memory limit, when known, so a full bar means full).
export function bars(points, { label, step, n, now, fmt, top = 0 }) {
    const svg = frame(label);
    const have = points.filter((p) => p.v !== null && p.v !== undefined);
    const max = Math.max(top, ...have.map((p) => Math.max(p.v, p.peak || 0))) || 1;
    const first = Math.floor(now / step) * step - (n - 1) * step;
    for (const p of have) {
        const i = Math.round((p.t - first) / step);
        if (i < 0 || i >= n) continue;
        const { x, w } = slot(i, n);
        const hv = (p.v / max) * (H - 4);
        svg.append(s("rect", { x, y: H - hv, width: w, height: hv, class: "bar-ok" }));
        if (p.peak > p.v) svg.append(s("rect", { x, y: H - (p.peak / max) * (H - 4), width: w, height: 2, class: "bar-peak" }));
    }
    const last = have[have.length - 1];
    return h("figure", { class: "chart-box" }, svg,
        h("figcaption", { class: "muted" }, `${label}; scale 0–${fmt(max)}`,
          last ? ` · last: ${fmt(last.v)}${last.peak > last.v ? `, peak ${fmt(last.peak)}` : ""}` : " · no samples yet"));
}
