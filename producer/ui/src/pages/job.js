// One job: envelope, args, result or error, attempts, progress, the live log
// (SSE), cancel, and retry as a new job.
import { get, post } from "../api.js";
import { h, fill, when, badge, pretty, errorBox, empty } from "../dom.js";
import { poll } from "../poll.js";
import { LogView } from "../logview.js";
import { FINISHED } from "../jobwait.js";
const SHOWN = new Set(["id", "state", "type", "args", "args_truncated", "result", "error", "error_message",
                       "error_field", "progress", "step", "meta", "log"]);
// The job's options kept in its record, copied by "Retry as new job".
const OPTIONS = ["target", "max_attempts", "priority", "lock"];

// The POST /v1/jobs body that submits j again as a new job (a new id).
function resubmission(j) {
    const body = { type: j.type, args: typeof j.args === "string" ? JSON.parse(j.args) : j.args };
    for (const k of OPTIONS)
        if (j[k] !== undefined && j[k] !== "" && !(k === "priority" && Number(j[k]) === 0)) body[k] = j[k];
    return body;
}

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
            // a new job with the same type, args, target and options; the
            // record keeps args up to 8 KiB (args_truncated beyond)
            FINISHED.has(j.state) && j.args !== undefined ? h("button", { type: "button", id: "retry", onclick: () => act(async () => {
                const r = await post("/v1/jobs", resubmission(j));
                location.hash = `#/jobs/${encodeURIComponent(r.id)}`;
            }) }, "Retry as new job") : null,
            // the dead message itself, requeued under the same id
            j.state === "dead" ? h("button", { type: "button", id: "retry-dead", onclick: () => act(async () => {
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
    // The record keeps the args up to 8 KiB; a job published straight to
    // RabbitMQ (or by an older client) has none.
    const parts = [dl, h("h2", null, "Args")];
    if (j.args !== undefined) parts.push(h("pre", { class: "code", id: "args" }, pretty(j.args)));
    else parts.push(h("p", { class: "muted", id: "args" }, j.args_truncated
        ? `${j.args_truncated} bytes: too large to keep in the job record (8 KiB at most); the message carries them.`
        : "Not recorded: the job was published straight to the queue, or by an older client."));
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
