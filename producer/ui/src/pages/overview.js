// Overview: jobs per minute (live, from the minute rollups), totals, run-time
// quantiles and the most failing types for 1 h, 24 h, 7 d or 30 d (from the
// minute or hour rollups), queues, workers and running jobs.
import { get } from "../api.js";
import { h, fill, dur, empty, table, errorBox } from "../dom.js";
import { poll } from "../poll.js";
import { parseMetrics, scalar, quantiles } from "../metrics.js";
import { columns } from "../chart.js";

const WINDOWS = [["1 h", "minutes=60"], ["24 h", "hours=24"], ["7 d", "hours=168"], ["30 d", "hours=720"]];
const WINDOW_POLL_MS = 60000; // hour buckets change slowly: read a window once a minute

// Per bucket sums over every type: [{ok, failed}] oldest first.
function perBucket(series) {
    const pts = Array.from({ length: series.points }, () => ({ ok: 0, failed: 0 }));
    for (const t of Object.values(series.types))
        t.ok.forEach((v, i) => { pts[i].ok += v; pts[i].failed += t.failed[i] + t.dead[i]; });
    return pts;
}

const total = (a) => a.reduce((x, y) => x + y, 0);

function card(label, value, id) {
    return h("div", { class: "card stat", id }, h("div", { class: "stat-value" }, String(value)),
        h("div", { class: "muted" }, label));
}

export function render(main) {
    let win = WINDOWS[0];
    let winData = null, winAt = 0;
    const body = h("div");
    const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Window" },
        WINDOWS.map((w) => h("button", { type: "button", "aria-pressed": String(w === win), onclick: (e) => {
            win = w;
            winAt = 0;
            for (const b of tabs.children) b.setAttribute("aria-pressed", String(b === e.target));
            refresh().catch(() => {});
        } }, w[0])));
    fill(main, h("h1", null, "Overview"), body);

    async function refresh() {
        const wantWin = win;
        const fresh = !winData || Date.now() - winAt > WINDOW_POLL_MS;
        let m, live, w, wd;
        try {
            [m, live, w, wd] = await Promise.all([get("/metrics"), get("/v1/stats/series?minutes=60"),
                get("/v1/workers"), fresh ? get(`/v1/stats/series?${wantWin[1]}`) : null]);
        } catch (e) {
            fill(body, errorBox(e));
            return;
        }
        if (wd && wantWin === win) { winData = wd; winAt = Date.now(); }
        const metrics = parseMetrics(m);
        const pts = perBucket(live);
        const last = pts[pts.length - 1] || { ok: 0, failed: 0 };
        fill(body, h("div", { class: "cards" },
                card("workers up", w.workers.length, "c-workers"),
                card("jobs running", scalar(metrics, "wharf_jobs_running"), "c-running"),
                card("succeeded this minute", last.ok, "c-ok"),
                card("failed this minute", last.failed, "c-failed"),
                card("RabbitMQ", scalar(metrics, "wharf_up_amqp") ? "up" : "down", "c-amqp")),
            columns(pts, "Jobs per minute, last hour (succeeded, and failed or dead)"),
            h("h2", null, "By type"), tabs, winData ? windowed(winData, win[0]) : null,
            h("section", null, h("h2", null, "Queues"), queues(metrics)));
    }
    return poll(refresh, 5000);
}

function windowed(s, label) {
    const rows = Object.entries(s.types).map(([t, v]) => ({ t, ok: total(v.ok), failed: total(v.failed),
        retried: total(v.retried), dead: total(v.dead), cancelled: total(v.cancelled || []),
        q: quantiles(v.hist, s.le_s), sum: v.dur_us_sum }))
        .filter((r) => r.ok + r.failed + r.retried + r.dead + r.cancelled > 0);
    const chart = s.step_s === 3600 ? columns(perBucket(s), `Jobs per hour, last ${label}`, "hour") : null;
    if (!rows.length) return [chart, empty(`No jobs finished in the last ${label}.`, "Submit one: wharf submit system.noop")];
    const avg = (r) => (r.q.count ? dur(r.sum / r.q.count / 1000) : "—");
    return [chart,
        table(["Type", "Succeeded", "Failed", "Retried", "Dead", "Cancelled", "Average", "p50", "p95"],
            rows.map((r) => h("tr", null,
            h("td", null, r.t), h("td", { class: "num" }, r.ok), h("td", { class: "num" }, r.failed),
            h("td", { class: "num" }, r.retried), h("td", { class: "num" }, r.dead),
            h("td", { class: "num" }, r.cancelled), h("td", { class: "num" }, avg(r)),
            h("td", { class: "num" }, r.q.count ? dur(r.q.p50) : "—"),
            h("td", { class: "num" }, r.q.count ? dur(r.q.p95) : "—"))), { id: "totals" }),
        h("h2", null, "Most failing types"), failing(rows)];
}

function failing(rows) {
    const bad = rows.filter((r) => r.failed + r.dead > 0).sort((a, b) => (b.failed + b.dead) - (a.failed + a.dead)).slice(0, 5);
    if (!bad.length) return empty("Nothing failed in this window.");
    return table(["Type", "Failed", "Dead"], bad.map((r) => h("tr", null,
        h("td", null, h("a", { href: `#/jobs?state=failed&type=${encodeURIComponent(r.t)}` }, r.t)),
        h("td", { class: "num" }, r.failed), h("td", { class: "num" }, r.dead))), { id: "failing" });
}

function queues(metrics) {
    const msgs = metrics.wharf_queue_messages || [], cons = metrics.wharf_queue_consumers || [];
    if (!msgs.length) return empty("No queue figures.", "RabbitMQ did not answer this scrape.");
    const c = Object.fromEntries(cons.map((s) => [s.labels.queue, s.value]));
    return table(["Queue", "Ready", "Consumers"], msgs.map((s) => h("tr", null, h("td", null, s.labels.queue),
        h("td", { class: "num" }, s.value), h("td", { class: "num" }, c[s.labels.queue] ?? "—"))), { id: "queues" });
}
