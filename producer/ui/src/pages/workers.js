// Workers: the registry of live workers with their heartbeats and mode, and
// (for operators) Quiet and Drain: POST /v1/workers/{id}/quiet|drain leaves
// the command in Redis; the worker acts at its next heartbeat, and the next
// poll shows its new mode.
import { get, post } from "../api.js";
import { h, fill, when, ago, empty, table, errorBox } from "../dom.js";
import { poll } from "../poll.js";

const ASK = {
    quiet: (id) => `Quiet ${id}? It takes no new jobs, finishes the running ones and stays up.`,
    drain: (id) => `Drain ${id}? It takes no new jobs, finishes or requeues the running ones and exits.`,
};

export function render(main, params, ctx) {
    const list = h("div");
    const note = h("div", { "aria-live": "polite", id: "workers-note" });
    fill(main, h("h1", null, "Workers"), note, list);

    async function command(id, cmd) {
        if (!window.confirm(ASK[cmd](id))) return;
        fill(note);
        try {
            await post(`/v1/workers/${encodeURIComponent(id)}/${cmd}`);
            fill(note, h("p", { class: "ok" }, `Asked ${id} to ${cmd}; it acts at its next heartbeat.`));
        } catch (e) {
            fill(note, errorBox(e));
        }
    }

    function buttons(w) {
        // a draining worker is on its way out: nothing more to ask
        if (!ctx.canWrite || !w.id || w.state === "draining") return null;
        return [w.state === "quiet" ? null : h("button", { type: "button", class: "quiet",
            "aria-label": `Quiet ${w.id}`, onclick: () => command(w.id, "quiet") }, "Quiet"),
        h("button", { type: "button", class: "danger drain", "aria-label": `Drain ${w.id}`,
            onclick: () => command(w.id, "drain") }, "Drain")];
    }

    return poll(async () => {
        let r;
        try { r = await get("/v1/workers"); } catch (e) { return fill(list, errorBox(e)); }
        if (!r.workers.length) return fill(list, empty("No worker is up.", "Start one: wharf-worker -c 8"));
        fill(list, table(["Worker", "Mode", "Host", "PID", "Families", "Concurrency", "Running", "RSS", "Started",
            "Heartbeat", ""],
        r.workers.map((w) => h("tr", { "data-id": w.id ?? "" },
            h("td", { class: "mono" }, w.id ?? w.name ?? "—"), h("td", { class: "mode" }, w.state ?? "running"),
            h("td", null, w.host ?? "—"), h("td", { class: "num" }, w.pid ?? "—"),
            h("td", null, w.queues ?? "—"),
            h("td", { class: "num" }, w.concurrency ?? "—"), h("td", { class: "num" }, w.jobs_running ?? "—"),
            h("td", { class: "num" }, w.rss ? `${(w.rss / 1048576).toFixed(1)} MB` : "—"),
            h("td", null, when(w.started_at)),
            h("td", null, w.heartbeat_at ? h("span", { title: new Date(Number(w.heartbeat_at)).toISOString() }, ago(w.heartbeat_at)) : "—"),
            h("td", { class: "row-actions" }, buttons(w)))),
        { id: "workers-table" }));
    }, 5000);
}
