// A small SVG column chart for two series (processed and failed per
// minute). Sizes are SVG attributes, so the strict CSP (no inline styles)
// holds.
import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
}

// points: [{t, ok, failed}] oldest first.
export function columns(points, label) {
    const W = 600, H = 120, n = Math.max(points.length, 30);
    const max = Math.max(1, ...points.map((p) => p.ok + p.failed));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label,
                           preserveAspectRatio: "none" });
    const bw = W / n;
    points.forEach((p, i) => {
        const x = (n - points.length + i) * bw;
        const ho = (p.ok / max) * (H - 4), hf = (p.failed / max) * (H - 4);
        svg.append(s("rect", { x: x + 1, y: H - ho - hf, width: Math.max(bw - 2, 1), height: ho, class: "bar-ok" }));
        if (hf) svg.append(s("rect", { x: x + 1, y: H - hf, width: Math.max(bw - 2, 1), height: hf, class: "bar-failed" }));
    });
    const last = points[points.length - 1];
    return h("figure", { class: "chart-box" }, svg,
        h("figcaption", { class: "muted" }, `${label}; scale 0–${max}`,
          last ? ` · last minute: ${last.ok} succeeded, ${last.failed} failed` : ""));
}
