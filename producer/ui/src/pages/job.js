// One job: envelope, args, result or error, attempts, progress, the live log
// (SSE), cancel, and retry as a new job.
import { get, post } from "../api.js";
import { h, fill, when, badge, pretty, errorBox, empty } from "../dom.js";
import { poll } from "../poll.js";
import { LogView } from "../logview.js";
import { FINISHED } from "../jobwait.js";
const SHOWN = new Set(["id", "state", "type", "args", "result", "error", "error_message", "error_field", "progress",
                       "step", "meta", "log"]);

function field(label, value) {
    return [h("dt", null, label), h("dd", null, value)];
}

export function render(main, [id], ctx) {
    const head = h("div");
    const actions = h("div", { class: "actions" });
    const info = h("div");
    const note = h("div", { "aria-live": "polite" });
    const log = new LogView();
    fill(main, h("p", null, h("a", { href: "#/jobs" }, "← Jobs")), head, actions, note, info,
        h("h2", null, "Log"), log.el);
    let es = null;
    let last = null;

    function stream() {
        es = new EventSource(`/v1/jobs/${encodeURIComponent(id)}/logs?follow=1`);
        es.addEventListener("line", (e) => log.add(JSON.parse(e.data)));
        es.addEventListener("gap", (e) => log.add({ s: "err", l: `… ${JSON.parse(e.data).missing} lines dropped by the log cap …` }));
        es.addEventListener("end", () => { es.close(); es = null; });
    }

    async function act(fn) {
        fill(note);
        try { await fn(); } catch (e) { fill(note, errorBox(e)); }
    }

    function buttons(j) {
        if (!ctx.canWrite) return fill(actions);
        fill(actions,
            !FINISHED.has(j.state) ? h("button", { type: "button", id: "cancel", class: "danger", onclick: () => act(async () => {
                const r = await post(`/v1/jobs/${encodeURIComponent(id)}/cancel`);
                fill(note, h("p", { class: "ok" }, `Cancel: ${r.state}`));
                refresh();
            }) }, "Cancel") : null,
            FINISHED.has(j.state) && j.args !== undefined ? h("button", { type: "button", id: "retry", onclick: () => act(async () => {
                const body = { type: j.type, args: typeof j.args === "string" ? JSON.parse(j.args) : j.args };
                if (j.target) body.target = j.target;
                const r = await post("/v1/jobs", body);
                location.hash = `#/jobs/${encodeURIComponent(r.id)}`;
            }) }, "Retry as a new job") : null,
            // the job record has no args to copy; a dead job's message still has them
            j.state === "dead" && j.args === undefined ? h("button", { type: "button", id: "retry-dead", onclick: () => act(async () => {
                const r = await post("/v1/dead/retry", { id });
                fill(note, h("p", { class: "ok" }, `Requeued from the dead queue: ${r.state}`));
                refresh();
            }) }, "Retry from the dead queue") : null);
    }

    async function refresh() {
        let j;
        try {
            j = await get(`/v1/jobs/${encodeURIComponent(id)}`);
        } catch (e) {
            fill(head, h("h1", null, "Job ", h("span", { class: "mono" }, id)),
                e.status === 404 ? empty("No such job.", "It may have expired; finished jobs are kept for jobs.ttl_s.") : errorBox(e));
            return e.status !== 404;
        }
        fill(head, h("h1", null, "Job ", h("span", { class: "mono" }, id), " ", badge(j.state)));
        if (!last || last.state !== j.state) buttons(j);
        last = j;
        info.replaceChildren(details(j));
        return !FINISHED.has(j.state); // a finished job changes no more: stop polling
    }

    const stopPoll = poll(refresh, 2000);
    stream();
    return () => { stopPoll(); if (es) es.close(); };
}

function details(j) {
    const dl = h("dl", { class: "kv" });
    dl.append(...field("Type", j.type || "—"));
    if (j.progress !== undefined) {
        const pct = Math.max(0, Math.min(100, Number(j.progress) || 0));
        dl.append(...field("Progress", h("span", null, h("progress", { max: "100", value: String(pct) }), ` ${pct}%`,
            j.step ? ` · ${j.step}` : "")));
    }
    for (const k of ["created_at", "queued_at", "run_at", "started_at", "finished_at"])
        if (j[k]) dl.append(...field(k.replace("_at", "").replace("_", " "), when(j[k])));
    for (const [k, v] of Object.entries(j))
        if (!SHOWN.has(k) && !k.endsWith("_at") && typeof v !== "object") dl.append(...field(k.replace(/_/g, " "), String(v)));
    // The job record keeps no args (the message carries them) unless a
    // future server adds them: show them when present.
    const parts = [dl];
    if (j.args !== undefined) parts.push(h("h2", null, "Args"), h("pre", { class: "code", id: "args" }, pretty(j.args)));
    if (j.error) parts.push(h("h2", null, "Error"), h("div", { class: "error", id: "job-error" },
        errorText(j.error), j.error_message ? `: ${j.error_message}` : "", j.error_field ? ` (${j.error_field})` : ""));
    if (j.result !== undefined && j.result !== "") parts.push(h("h2", null, "Result"), h("pre", { class: "code", id: "result" }, pretty(j.result)));
    if (j.meta) parts.push(h("h2", null, "Meta"), h("pre", { class: "code" }, pretty(j.meta)));
    return h("div", null, parts);
}

function errorText(e) {
    let v = e;
    if (typeof e === "string") { try { v = JSON.parse(e); } catch (x) { return e; } }
    return v && v.code ? `${v.code}: ${v.message || ""}${v.field ? ` (${v.field})` : ""}` : pretty(v);
}
