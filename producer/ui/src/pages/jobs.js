// Jobs: the recent-jobs index newest first. State, type, target, the time
// window and a text to find in the args go to GET /v1/jobs, which filters by
// its indexes and pages by `cursor` (next_cursor of the previous page). The
// server looks at a bounded number of jobs per page, so a rare match may
// need "Older jobs" to be found.
import { get } from "../api.js";
import { h, fill, when, badge, empty, table, errorBox } from "../dom.js";

const STATES = ["", "scheduled", "queued", "running", "retrying", "succeeded", "failed", "dead", "cancelled"];

function params() {
    return new URLSearchParams(location.hash.split("?")[1] || "");
}

export function render(main) {
    const p = params();
    const state = h("select", { id: "f-state", name: "state" },
        STATES.map((s) => h("option", { value: s, selected: s === (p.get("state") || "") }, s || "any state")));
    const type = h("input", { id: "f-type", name: "type", placeholder: "system.sleep", value: p.get("type") || "" });
    const target = h("input", { id: "f-target", name: "target", placeholder: "host", value: p.get("target") || "" });
    const since = h("select", { id: "f-since", name: "since" }, [["", "any time"], ["3600000", "last hour"],
        ["86400000", "last 24 h"], ["604800000", "last 7 days"]].map(([v, l]) =>
        h("option", { value: v, selected: v === (p.get("since") || "") }, l)));
    const text = h("input", { id: "f-q", name: "q", type: "search", placeholder: "text in args", maxlength: "200",
        value: p.get("q") || "" });
    const idq = h("input", { id: "f-id", name: "id", placeholder: "job id", autocomplete: "off" });
    const list = h("div", { "aria-live": "polite" });
    const scanned = h("p", { class: "muted", id: "scanned" });
    const more = h("button", { type: "button", id: "more", hidden: true }, "Older jobs");
    let cursor = "";
    let seen = 0;
    let looked = 0; // jobs the server looked at for this filter, all pages
    let tbody = null;

    const form = h("form", { class: "filters", role: "search", "aria-label": "Filter jobs" },
        h("label", null, "State ", state), h("label", null, "Type ", type), h("label", null, "Target ", target),
        h("label", null, "Created ", since), h("label", null, "Args contain ", text),
        h("button", { type: "submit" }, "Filter"));
    form.addEventListener("submit", (e) => {
        e.preventDefault();
        const q = new URLSearchParams();
        for (const [k, el] of [["state", state], ["type", type], ["target", target], ["since", since], ["q", text]])
            if (el.value.trim()) q.set(k, el.value.trim());
        const want = `#/jobs${q.toString() ? "?" + q : ""}`;
        if (location.hash !== want) location.hash = want;
        else load(true);
    });
    const find = h("form", { class: "filters", role: "search", "aria-label": "Open a job by id" },
        h("label", null, "Open job ", idq), h("button", { type: "submit" }, "Open"));
    find.addEventListener("submit", (e) => {
        e.preventDefault();
        if (idq.value.trim()) location.hash = `#/jobs/${encodeURIComponent(idq.value.trim())}`;
    });
    more.addEventListener("click", () => load(false));
    fill(main, h("h1", null, "Jobs"), form, find, list, scanned, more);

    async function load(first) {
        const q = new URLSearchParams({ limit: "50" });
        if (state.value) q.set("state", state.value);
        if (type.value.trim()) q.set("type", type.value.trim());
        if (target.value.trim()) q.set("target", target.value.trim());
        if (since.value) q.set("since", String(Date.now() - Number(since.value)));
        if (text.value.trim()) q.set("q", text.value.trim());
        if (!first && cursor) q.set("cursor", cursor);
        let r;
        try {
            r = await get(`/v1/jobs?${q}`);
        } catch (e) {
            fill(list, errorBox(e));
            return;
        }
        if (first) {
            seen = 0;
            looked = 0;
            tbody = null;
            fill(list);
        }
        const rows = r.jobs.map(row);
        seen += rows.length;
        if (!tbody && rows.length) {
            const t = table(["Job", "Type", "State", "Target", "Created", "Attempt", "Args"], rows, { id: "jobs-table" });
            tbody = t.querySelector("tbody");
            list.append(t);
        } else if (rows.length) tbody.append(...rows);
        cursor = r.next_cursor || "";
        more.hidden = !cursor;
        // a sparse filter may stop at the server's scan cap before a page is full
        looked += r.scanned;
        scanned.textContent = r.truncated ? `Looked at ${looked} jobs so far; "Older jobs" looks further.` : "";
        if (!seen && !cursor)
            fill(list, empty("No jobs match.", "Widen the filter, or submit a job: wharf submit system.noop"));
    }
    load(true);
    return null;
}

function row(j) {
    return h("tr", null,
        h("td", null, h("a", { href: `#/jobs/${encodeURIComponent(j.id)}`, class: "mono" }, j.id)),
        h("td", null, j.type || "—"), h("td", null, badge(j.state)), h("td", null, j.target || "—"),
        h("td", null, when(j.created_at)), h("td", { class: "num" }, j.attempt ?? "—"),
        h("td", { class: "mono args-cell" }, brief(j)));
}

// The args on one line, cut to fit a table cell.
function brief(j) {
    if (j.args === undefined) return j.args_truncated ? `(${j.args_truncated} bytes)` : "—";
    const t = typeof j.args === "string" ? j.args : JSON.stringify(j.args);
    return t.length > 60 ? `${t.slice(0, 59)}…` : t;
}
