// Workers: the registry of live workers with their heartbeats.
import { get } from "../api.js";
import { h, fill, when, ago, empty, table, errorBox } from "../dom.js";
import { poll } from "../poll.js";


export function render(main) {
    const list = h("div");
    fill(main, h("h1", null, "Workers"), list);
    return poll(async () => {
        let r;
        try { r = await get("/v1/workers"); } catch (e) { return fill(list, errorBox(e)); }
        if (!r.workers.length) return fill(list, empty("No worker is up.", "Start one: wharf-worker -c 8"));
        fill(list, table(["Worker", "Host", "PID", "Families", "Concurrency", "Running", "RSS", "Started", "Heartbeat"],
            r.workers.map((w) => h("tr", null,
                h("td", { class: "mono" }, w.id ?? w.name ?? "—"), h("td", null, w.host ?? "—"), h("td", { class: "num" }, w.pid ?? "—"),
                h("td", null, w.queues ?? "—"),
                h("td", { class: "num" }, w.concurrency ?? "—"), h("td", { class: "num" }, w.jobs_running ?? "—"),
                h("td", { class: "num" }, w.rss ? `${(w.rss / 1048576).toFixed(1)} MB` : "—"),
                h("td", null, when(w.started_at)),
                h("td", null, w.heartbeat_at ? h("span", { title: new Date(Number(w.heartbeat_at)).toISOString() }, ago(w.heartbeat_at)) : "—"))),
            { id: "workers-table" }));
    }, 5000);
}
