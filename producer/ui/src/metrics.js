// Read the Prometheus text of /metrics into {name: [{labels, value}]}, and
// quantiles from a run-time histogram.

export function parseMetrics(text) {
    const out = {};
    for (const line of text.split("\n")) {
        if (!line || line[0] === "#") continue;
        const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/);
        if (!m) continue;
        const labels = {};
        for (const l of (m[2] || "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
        (out[m[1]] = out[m[1]] || []).push({ labels, value: Number(m[3]) });
    }
    return out;
}

export function scalar(metrics, name) {
    const s = metrics[name];
    return s && s.length ? s[0].value : 0;
}

// {count, p50, p95} in ms from a run-time histogram: runs per bucket
// (hist) with upper bounds in seconds (le_s, null for +Inf), as
// /v1/stats/series gives them.
export function quantiles(hist, leS) {
    let n = 0;
    const b = hist.map((c, i) => ({ le: leS[i] === null ? Infinity : leS[i], n: (n += c) }));
    return { count: n, p50: q(b, n, 0.5), p95: q(b, n, 0.95) };
}

// The f-quantile of cumulative buckets [{le, n}] by linear interpolation
// inside its bucket, in ms.
function q(b, total, f) {
    if (!total) return NaN;
    const want = total * f;
    let prevLe = 0, prevN = 0;
    for (const { le, n } of b) {
        if (n >= want) {
            if (le === Infinity) return prevLe * 1000;
            const inside = n - prevN;
            return (prevLe + (inside ? (want - prevN) / inside : 0) * (le - prevLe)) * 1000;
        }
        prevLe = le;
        prevN = n;
    }
    return prevLe * 1000;
}
