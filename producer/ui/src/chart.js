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

// points: [{ok, failed}] oldest first, one per bucket; `unit` names a
// bucket ("minute", "hour") for the caption.
export function columns(points, label, unit = "minute") {
    const W = 600, H = 120, n = Math.max(points.length, 30);
    const max = Math.max(1, ...points.map((p) => p.ok + p.failed));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label,
                           preserveAspectRatio: "none" });
    const bw = W / n;
    const gap = bw > 4 ? 1 : 0; // thin bars (720 hours) touch
    points.forEach((p, i) => {
        if (!p.ok && !p.failed) return;
        const x = (n - points.length + i) * bw + gap;
        const w = Math.max(bw - 2 * gap, 0.8);
        const ho = (p.ok / max) * (H - 4), hf = (p.failed / max) * (H - 4);
        svg.append(s("rect", { x, y: H - ho - hf, width: w, height: ho, class: "bar-ok" }));
        if (hf) svg.append(s("rect", { x, y: H - hf, width: w, height: hf, class: "bar-failed" }));
    });
    const last = points[points.length - 1];
    return h("figure", { class: "chart-box" }, svg,
        h("figcaption", { class: "muted" }, `${label}; scale 0–${max}`,
          last ? ` · this ${unit}: ${last.ok} succeeded, ${last.failed} failed` : ""));
}
