// Fleet: hosts and their containers, from /v1/hosts (the fleet routes of
// the HTTP API). A server without those routes answers 404: say so.
import { get } from "../api.js";
import { h, fill, when, empty, table, errorBox } from "../dom.js";
import { poll } from "../poll.js";

export function render(main) {
    const list = h("div");
    fill(main, h("h1", null, "Fleet"), list);
    return poll(async () => {
        let r;
        try {
            r = await get("/v1/hosts");
        } catch (e) {
            if (e.status === 404) {
                fill(list, empty("This server has no fleet routes yet.", "They come with the fleet API (/v1/hosts)."));
                return false;
            }
            return fill(list, errorBox(e));
        }
        const hosts = r.hosts || [];
        if (!hosts.length) return fill(list, empty("No hosts in the inventory.", "Add hosts to the worker's inventory file."));
        fill(list, table(["Host", "Families", "Reachable", "Containers", "Last sync"], hosts.map((x) => h("tr", null,
            h("td", null, x.name || x.host), h("td", null, (x.families || []).join(", ")),
            h("td", null, x.reachable === undefined ? "—" : x.reachable ? "yes" : "no"),
            h("td", null, x.sync && x.sync.containers ? Object.entries(x.sync.containers).map(([k, v]) => `${v} ${k}`).join(", ") : "—"),
            h("td", null, when(x.sync && x.sync.at)))), { id: "hosts-table" }));
    }, 10000);
}
