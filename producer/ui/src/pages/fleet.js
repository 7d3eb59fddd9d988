// Fleet: the inventory's hosts, then one host's containers with their state,
// image, ports and health, and start / stop / restart buttons that submit
// jobs, from the fleet routes of the HTTP API (/v1/hosts..., what the
// workers' runtime.host.sync jobs left in Redis).
import { get, post } from "../api.js";
import { h, fill, when, badge, empty, table, errorBox } from "../dom.js";
import { poll } from "../poll.js";

const ACTIONS = ["start", "stop", "restart"];

export function render(main, [host], ctx) {
    return host ? containers(main, decodeURIComponent(host), ctx) : hosts(main);
}

function hosts(main) {
    const list = h("div");
    fill(main, h("h1", null, "Fleet"), list);
    return poll(async () => {
        let r;
        try { r = await get("/v1/hosts"); } catch (e) { return fill(list, errorBox(e)); }
        if (!r.hosts.length) return fill(list, empty("No hosts in the inventory.", "Add [host.NAME] sections to the inventory."));
        fill(list, table(["Host", "Families", "Reachable", "Containers", "Last sync"], r.hosts.map((x) => h("tr", null,
            h("td", null, h("a", { href: `#/fleet/${encodeURIComponent(x.name)}` }, x.name)),
            h("td", null, (x.families || []).join(", ") || "—"),
            h("td", null, x.reachable === null || x.reachable === undefined ? "—" : x.reachable ? "yes" : "no"),
            h("td", null, x.sync && x.sync.states ? Object.entries(x.sync.states).map(([k, v]) => `${v} ${k}`).join(", ") : "—"),
            h("td", null, when(x.sync && x.sync.synced_at)))), { id: "hosts-table" }));
    }, 10000);
}

function ports(p) {
    if (!Array.isArray(p) || !p.length) return "—";
    return p.map((x) => (x.PublicPort ? `${x.PublicPort}→${x.PrivatePort}/${x.Type}` : `${x.PrivatePort}/${x.Type}`)).join(", ");
}

function containers(main, host, ctx) {
    const list = h("div");
    const note = h("div", { "aria-live": "polite", id: "fleet-note" });
    fill(main, h("p", null, h("a", { href: "#/fleet" }, "← Fleet")), h("h1", null, "Host ", host), note, list);
    async function act(name, action) {
        fill(note);
        try {
            const j = await post(`/v1/hosts/${encodeURIComponent(host)}/containers/${encodeURIComponent(name)}/${action}`);
            fill(note, h("p", { class: "ok" }, `${action} ${name}: job `, h("a", { href: `#/jobs/${encodeURIComponent(j.id)}` }, j.id)));
        } catch (e) {
            fill(note, errorBox(e));
        }
    }
    return poll(async () => {
        let r;
        try { r = await get(`/v1/hosts/${encodeURIComponent(host)}/containers`); } catch (e) { return fill(list, errorBox(e)); }
        if (!r.containers.length) return fill(list, empty("No containers in the last sync.", "A runtime.host.sync job fills this list."));
        fill(list, table(["Container", "State", "Image", "Ports", "Health", ""], r.containers.map((c) => h("tr", { "data-name": c.name },
            h("td", null, c.name), h("td", null, badge(c.state), c.status ? h("span", { class: "muted" }, ` ${c.status}`) : null),
            h("td", { class: "mono" }, c.image || "—"), h("td", null, ports(c.ports)), h("td", null, c.health || "—"),
            h("td", { class: "row-actions" }, ctx.canWrite ? ACTIONS.map((a) =>
                h("button", { type: "button", class: a === "stop" ? "danger" : "", onclick: () => act(c.name, a) }, a)) : null))),
            { id: "containers-table" }));
    }, 5000);
}
