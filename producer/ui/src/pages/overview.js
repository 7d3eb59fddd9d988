// Overview: jobs per minute (live), totals per window from the rollups,
// queues, workers, running jobs, run-time quantiles, the most failing types.
import { get } from "../api.js";
import { h, fill, dur, empty, table, errorBox } from "../dom.js";
import { poll } from "../poll.js";
import { parseMetrics, scalar, quantiles } from "../metrics.js";
import { columns } from "../chart.js";

const WINDOWS = [["1 h", 60], ["24 h", 1440], ["48 h", 2880]];
const LIVE_POINTS = 60; // minutes of live history kept in the page

function sum(types) {
    let ok = 0, failed = 0, dead = 0, retried = 0;
    for (const t of Object.values(types)) { ok += t.ok; failed += t.failed; dead += t.dead; retried += t.retried; }
    return { ok, failed, dead, retried };
}

function card(label, value, id) {
    return h("div", { class: "card stat", id }, h("div", { class: "stat-value" }, String(value)),
        h("div", { class: "muted" }, label));
}

export function render(main, params, ctx) {
    let windowMin = 60;
    const live = []; // [{t, ok, failed}] one per polled minute
    const body = h("div", { "aria-live": "off" });
    const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Window" },
        WINDOWS.map(([label, m]) => h("button", { type: "button", "aria-pressed": String(m === windowMin),
            onclick: (e) => { windowMin = m; for (const b of tabs.children) b.setAttribute("aria-pressed", String(b === e.target)); refresh(); } },
            label)));
    fill(main, h("h1", null, "Overview"), body);

    async function refresh() {
        const [m, minute, win, w] = await Promise.all([get("/metrics"), get("/v1/stats?minutes=1"),
            get(`/v1/stats?minutes=${windowMin}`), get("/v1/workers")]).catch((e) => {
            fill(body, errorBox(e));
            throw e;
        });
        const metrics = parseMetrics(m);
        const now = sum(minute.types);
        const t = Math.floor(Date.now() / 60000);
        if (live.length && live[live.length - 1].t === t) live[live.length - 1] = { t, ok: now.ok, failed: now.failed };
        else live.push({ t, ok: now.ok, failed: now.failed });
        if (live.length > LIVE_POINTS) live.shift();
        fill(body, cards(metrics, now, w), columns(live, "Jobs per minute, live (succeeded and failed)"),
            h("h2", null, "Totals"), tabs, totals(win), h("div", { class: "grid2" },
                h("section", null, h("h2", null, "Queues"), queues(metrics)),
                h("section", null, h("h2", null, "Most failing types"), failing(win))),
            h("h2", null, "Run time per type (last hour)"), runtimes(metrics));
    }
    return poll(refresh, 5000);
}

function cards(metrics, now, w) {
    return h("div", { class: "cards" },
        card("workers up", w.workers.length, "c-workers"),
        card("jobs running", scalar(metrics, "wharf_jobs_running"), "c-running"),
        card("succeeded, last minute", now.ok, "c-ok"),
        card("failed, last minute", now.failed, "c-failed"),
        card("RabbitMQ", scalar(metrics, "wharf_up_amqp") ? "up" : "down", "c-amqp"));
}

function totals(win) {
    const types = Object.entries(win.types);
    if (!types.length) return empty("No jobs finished in this window.", "Submit one: wharf submit system.noop");
    const all = sum(win.types);
    return table(["Type", "Succeeded", "Failed", "Retried", "Dead", "Average"],
        types.map(([t, v]) => h("tr", null, h("td", null, t), h("td", { class: "num" }, v.ok),
            h("td", { class: "num" }, v.failed), h("td", { class: "num" }, v.retried),
            h("td", { class: "num" }, v.dead), h("td", { class: "num" }, dur(v.avg_ms)))).concat(
            h("tr", { class: "total" }, h("th", { scope: "row" }, "All"), h("td", { class: "num" }, all.ok),
                h("td", { class: "num" }, all.failed), h("td", { class: "num" }, all.retried),
                h("td", { class: "num" }, all.dead), h("td"))), { id: "totals" });
}

function queues(metrics) {
    const msgs = metrics.wharf_queue_messages || [], cons = metrics.wharf_queue_consumers || [];
    if (!msgs.length) return empty("No queue figures.", "RabbitMQ did not answer this scrape.");
    const c = Object.fromEntries(cons.map((s) => [s.labels.queue, s.value]));
    return table(["Queue", "Ready", "Consumers"], msgs.map((s) => h("tr", null, h("td", null, s.labels.queue),
        h("td", { class: "num" }, s.value), h("td", { class: "num" }, c[s.labels.queue] ?? "—"))), { id: "queues" });
}

function failing(win) {
    const rows = Object.entries(win.types).filter(([, v]) => v.failed + v.dead > 0)
        .sort((a, b) => (b[1].failed + b[1].dead) - (a[1].failed + a[1].dead)).slice(0, 5);
    if (!rows.length) return empty("Nothing failed in this window.");
    return table(["Type", "Failed", "Dead"], rows.map(([t, v]) => h("tr", null,
        h("td", null, h("a", { href: `#/jobs?state=failed&type=${encodeURIComponent(t)}` }, t)),
        h("td", { class: "num" }, v.failed), h("td", { class: "num" }, v.dead))));
}

function runtimes(metrics) {
    const rows = Object.entries(quantiles(metrics)).filter(([, v]) => v.count);
    if (!rows.length) return empty("No runs in the last hour.");
    return table(["Type", "Runs", "p50", "p95"], rows.map(([t, v]) => h("tr", null, h("td", null, t),
        h("td", { class: "num" }, v.count), h("td", { class: "num" }, dur(v.p50)), h("td", { class: "num" }, dur(v.p95)))),
        { id: "runtimes" });
}
