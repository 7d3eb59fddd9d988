// One container of a host: what the last sync saw, its CPU and memory from
// the runtime.host.stats rollups (1 h of minutes, 24 h or 30 d of hours),
// and its output live over SSE from the stream runtime.container.logs
// fills; an operator can start such a job from here.
import { get, post } from "../api.js";
import { h, fill, badge, errorBox, empty } from "../dom.js";
import { poll } from "../poll.js";
import { bars } from "../chart.js";
import { LogView } from "../logview.js";
import { jobLink } from "../jobwait.js";
import { ports } from "./fleet.js";

const WINDOWS = [["1 h", "minutes=60", 60, 60], ["24 h", "hours=24", 3600, 24], ["30 d", "hours=720", 3600, 720]];
const CHART_POLL_MS = 30000; // a sweep adds a sample about once a minute
const FOLLOW_S = 300;        // how long a follow job copies the output

function bytes(n) {
    const v = Number(n);
    if (!isFinite(v)) return "—";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0, x = v;
    while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return `${i ? x.toFixed(1) : Math.round(x)} ${u[i]}`;
}

const pct = (v) => `${Number(v).toFixed(1)} %`;

export function render(main, [hostEnc, nameEnc], ctx) {
    const host = decodeURIComponent(hostEnc), name = decodeURIComponent(nameEnc);
    const base = `/v1/hosts/${encodeURIComponent(host)}`;
    const head = h("div"), charts = h("div", { id: "ctr-charts" }), note = h("div", { "aria-live": "polite", id: "log-note" });
    const log = new LogView(`Output of ${name}`);
    const status = h("p", { class: "muted", id: "log-status" }, "Connecting…");
    let win = WINDOWS[0];
    const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Window" },
        WINDOWS.map((w) => h("button", { type: "button", "aria-pressed": String(w === win), onclick: (e) => {
            win = w;
            for (const b of tabs.children) b.setAttribute("aria-pressed", String(b === e.target));
            drawCharts().catch(() => {});
        } }, w[0])));
    const follow = ctx.canWrite ? h("button", { type: "button", id: "log-follow", onclick: () => startCopy() },
        `Copy the output for ${FOLLOW_S / 60} min`) : null;
    fill(main, h("p", null, h("a", { href: `#/fleet/${encodeURIComponent(host)}` }, `← Host ${host}`)), head,
        h("h2", null, "CPU and memory"), tabs, charts,
        h("h2", null, "Output"), h("div", { class: "actions" }, follow), note, status, log.el);

    async function drawCharts() {
        const w = win;
        let r;
        try {
            r = await get(`${base}/stats?${w[1]}&container=${encodeURIComponent(name)}`);
        } catch (e) {
            return fill(charts, errorBox(e));
        }
        if (w !== win) return;
        const now = Date.now() / 1000, opts = { step: w[2], n: w[3], now };
        if (!r.points.length)
            return fill(charts, empty(`No samples of ${name} in the last ${w[0]}.`,
                "runtime.host.stats jobs sample every running container; schedule one every minute."));
        const limit = Math.max(0, ...r.points.map((p) => p.mem_limit || 0));
        fill(charts, h("div", { class: "grid2" },
            h("div", { id: "chart-cpu" }, bars(r.points.map((p) => ({ t: p.t, v: p.cpu_avg, peak: p.cpu_max })),
                { ...opts, label: `CPU, % of one CPU, last ${w[0]}`, fmt: pct })),
            h("div", { id: "chart-mem" }, bars(r.points.map((p) => ({ t: p.t, v: p.mem_avg, peak: p.mem_max })),
                { ...opts, label: `Memory, last ${w[0]}${limit ? ` (limit ${bytes(limit)})` : ""}`, fmt: bytes }))));
    }

    async function showHead() {
        try {
            const c = await get(`${base}/containers/${encodeURIComponent(name)}`);
            fill(head, h("h1", null, "Container ", name, " ", badge(c.state)), h("dl", { class: "kv" },
                h("dt", null, "Host"), h("dd", null, host),
                h("dt", null, "Image"), h("dd", { class: "mono" }, c.image || "—"),
                h("dt", null, "Status"), h("dd", null, c.status || "—"),
                h("dt", null, "Ports"), h("dd", null, ports(c.ports)),
                h("dt", null, "Health"), h("dd", null, c.health || "—")));
        } catch (e) {
            fill(head, h("h1", null, "Container ", name), e.status === 404
                ? empty("Not in the host's last sync.", "It may be gone; its stats and output stay until they expire.")
                : errorBox(e));
        }
    }

    async function startCopy() {
        fill(note);
        try {
            const j = await post("/v1/jobs", { type: "runtime.container.logs", target: host, timeout_s: FOLLOW_S + 60,
                args: { name, follow_s: FOLLOW_S, tail: log.lines.length ? 0 : 200 } });
            fill(note, h("p", { class: "ok" }, `Copying the output for ${FOLLOW_S / 60} min: job `, jobLink(j.id)));
        } catch (e) {
            fill(note, errorBox(e));
        }
    }

    const es = stream(`${base}/containers/${encodeURIComponent(name)}/logs?tail=500&follow=1`, log, status);
    const stopPoll = poll(() => Promise.all([showHead(), drawCharts()]), CHART_POLL_MS);
    return () => { stopPoll(); es.close(); };
}

// Follow the log stream into `log`; the browser resumes a broken stream by
// itself with Last-Event-ID, and lines the cap dropped meanwhile come as a
// `gap`, as on the job page.
function stream(url, log, status) {
    const es = new EventSource(url);
    const say = (t) => fill(status, t);
    es.addEventListener("open", () => {
        say("Following the stream.");
        // the tail comes at once: still nothing a moment later means empty
        setTimeout(() => {
            if (!log.lines.length && es.readyState === EventSource.OPEN)
                say("Following the stream; no output in it yet. A runtime.container.logs job copies the output here.");
        }, 1000);
    });
    es.addEventListener("line", (e) => {
        if (!log.lines.length) say("Following the stream.");
        log.add(JSON.parse(e.data));
    });
    es.addEventListener("gap", (e) => {
        const n = JSON.parse(e.data).missing;
        log.add({ s: "err", l: n === null ? "… lines dropped by the log cap …" : `… ${n} lines dropped by the log cap …` });
    });
    es.addEventListener("error", () => say(es.readyState === EventSource.CLOSED
        ? "The stream ended; reload the page to follow it again." : "Reconnecting…"));
    return es;
}
