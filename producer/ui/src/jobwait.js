// Following a job the page submitted until it ends: its record polled about
// once a second (through poll(), so never piling up and paused in a
// background tab), each answer shown as it comes.
import { get } from "./api.js";
import { h } from "./dom.js";
import { poll } from "./poll.js";

export const FINISHED = new Set(["succeeded", "failed", "dead", "cancelled"]);

// Follow job `id`: onUpdate(job) after every answer. Returns {done, stop}:
// done resolves with the finished job (never, once stop() was called, as
// when the page is left).
export function waitJob(id, onUpdate, ms = 1000) {
    let stop = null;
    const done = new Promise((resolve) => {
        stop = poll(async () => {
            const j = await get(`/v1/jobs/${encodeURIComponent(id)}`);
            if (onUpdate) onUpdate(j);
            if (!FINISHED.has(j.state)) return true;
            resolve(j);
            return false;
        }, ms);
    });
    return { done, stop };
}

// A JSON member that may come as JSON text (result, error).
export function parsed(v) {
    if (typeof v !== "string") return v;
    try { return JSON.parse(v); } catch (e) { return v; }
}

// "code: message (field)" of a failed job.
export function failure(j) {
    const e = parsed(j.error);
    const code = e && typeof e === "object" ? e.code : e;
    const msg = (e && typeof e === "object" && e.message) || j.error_message || "";
    return `${code || j.state}${msg ? `: ${msg}` : ""}`;
}

// A link to job `id`.
export function jobLink(id) {
    return h("a", { class: "mono", href: `#/jobs/${encodeURIComponent(id)}` }, id);
}

// Jobs a page follows, stopped all at once when it is left.
export function tracker() {
    const stops = new Set();
    return {
        // The finished job (see waitJob); onUpdate(job) on every answer.
        follow(id, onUpdate) {
            const w = waitJob(id, onUpdate);
            stops.add(w.stop);
            return w.done.finally(() => stops.delete(w.stop));
        },
        stopAll() { for (const s of stops) s(); stops.clear(); },
    };
}

// "<what>: job <id> · <state>[ · <step>]", while it runs.
export function jobLine(what, j) {
    return h("p", null, `${what}: job `, jobLink(j.id), ` · ${j.state}${j.step ? ` · ${j.step}` : ""}`);
}
