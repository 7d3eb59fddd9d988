// Read the Prometheus text of /metrics into {name: [{labels, value}]}, and
// quantiles from its histogram buckets.

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

// {type: {p50, p95, count}} in ms, from wharf_job_run_seconds_bucket.
export function quantiles(metrics) {
    const byType = {};
    for (const s of metrics.wharf_job_run_seconds_bucket || []) {
        const t = s.labels.type;
        (byType[t] = byType[t] || []).push({ le: s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), n: s.value });
    }
    const out = {};
    for (const [t, b] of Object.entries(byType)) {
        b.sort((x, y) => x.le - y.le);
        const total = b.length ? b[b.length - 1].n : 0;
        out[t] = { count: total, p50: q(b, total, 0.5), p95: q(b, total, 0.95) };
    }
    return out;
}

// The q-quantile by linear interpolation inside its bucket, in ms.
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
