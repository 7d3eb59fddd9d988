// Fleet: the inventory's hosts, then one host's containers with their state,
// image, ports and health, start / stop / restart / remove buttons that run
// jobs and show how they ended, and the host's available updates
// (fleet_updates.js), from the fleet routes of the HTTP API (/v1/hosts...,
// what the workers' runtime.host.sync jobs left in Redis). A container's
// name leads to its charts and output (container.js).
import { get, post } from "../api.js";
import { h, fill, when, badge, empty, table, errorBox } from "../dom.js";
import { poll } from "../poll.js";
import { tracker, jobLine, failure, jobLink } from "../jobwait.js";
import { updatesSection } from "./fleet_updates.js";

const ACTIONS = ["start", "stop", "restart", "remove"];
const DANGER = new Set(["stop", "remove"]);
// Docker states in which an action has nothing to do: its button is disabled.
const IDLE = { start: new Set(["running", "restarting"]), stop: new Set(["exited", "created", "dead"]) };

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

export function ports(p) {
    if (!Array.isArray(p) || !p.length) return "—";
    return p.map((x) => (x.PublicPort ? `${x.PublicPort}→${x.PrivatePort}/${x.Type}` : `${x.PrivatePort}/${x.Type}`)).join(", ");
}

function containers(main, host, ctx) {
    const base = `/v1/hosts/${encodeURIComponent(host)}`;
    const list = h("div");
    const note = h("div", { "aria-live": "polite", id: "fleet-note" });
    const jobs = tracker();

    // A runtime.host.sync of our own (the list's ?refresh shares one job
    // for 60 s, which may predate the change), then the list again.
    async function resync() {
        const s = await post("/v1/jobs", { type: "runtime.host.sync", target: host, max_attempts: 1 });
        await jobs.follow(s.id);
        await draw();
    }
    const updates = updatesSection(host, ctx, jobs, resync);
    fill(main, h("p", null, h("a", { href: "#/fleet" }, "← Fleet")), h("h1", null, "Host ", host), note, list, updates.el);

    async function act(name, action) {
        if (action === "remove" && !window.confirm(`Remove container ${name} from ${host}? ` +
            "A running container is stopped first. This cannot be undone.")) return;
        const what = `${action} ${name}`;
        fill(note);
        try {
            const j = await post(`${base}/containers/${encodeURIComponent(name)}/${action}`,
                action === "remove" ? { force: true } : undefined);
            const done = await jobs.follow(j.id, (s) => fill(note, jobLine(what, s)));
            if (done.state !== "succeeded") return fill(note, jobLine(what, done), errorBox(failure(done)));
            fill(note, h("p", { class: "ok" }, `${what}: done (job `, jobLink(j.id), "); reading the host again…"));
            await resync();
            fill(note, h("p", { class: "ok" }, `${what}: done (job `, jobLink(j.id), ")."));
        } catch (e) {
            fill(note, errorBox(e));
        }
    }

    function row(c) {
        const href = `#/fleet/${encodeURIComponent(host)}/${encodeURIComponent(c.name)}`;
        return h("tr", { "data-name": c.name },
            h("td", null, h("a", { href }, c.name)),
            h("td", null, badge(c.state), c.status ? h("span", { class: "muted" }, ` ${c.status}`) : null),
            h("td", { class: "mono" }, c.image || "—"), h("td", null, ports(c.ports)), h("td", null, c.health || "—"),
            h("td", { class: "row-actions" }, ctx.canWrite ? ACTIONS.map((a) => h("button", { type: "button",
                class: DANGER.has(a) ? "danger" : "", "data-action": a, "aria-label": `${a} ${c.name}`,
                disabled: IDLE[a] && IDLE[a].has(c.state),
                onclick: () => act(c.name, a) }, a)) : null));
    }

    let shown = "";
    async function draw() {
        let r;
        try { r = await get(`${base}/containers`); } catch (e) { shown = ""; return fill(list, errorBox(e)); }
        // redraw only what changed, so a focused button stays in place
        const now = JSON.stringify(r);
        if (now === shown) return;
        shown = now;
        if (!r.containers.length) return fill(list, empty("No containers in the last sync.", "A runtime.host.sync job fills this list."));
        fill(list, table(["Container", "State", "Image", "Ports", "Health", ""], r.containers.map(row), { id: "containers-table" }),
            h("p", { class: "muted" }, "As of the last sync, ", when(r.synced_at), "."));
    }

    const stopPoll = poll(draw, 5000);
    return () => { stopPoll(); jobs.stopAll(); };
}
