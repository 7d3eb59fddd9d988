// Schedules: list with the next firing, add (cron or every N s), delete, run now.
import { get, post, del } from "../api.js";
import { h, fill, when, empty, table, errorBox } from "../dom.js";

export function render(main, params, ctx) {
    const list = h("div");
    const note = h("div", { "aria-live": "polite", id: "sched-note" });
    fill(main, h("h1", null, "Schedules"), note, list, ctx.canWrite ? form() : null);

    async function act(fn, done) {
        fill(note);
        try { const r = await fn(); fill(note, h("p", { class: "ok" }, done(r))); } catch (e) { fill(note, errorBox(e)); }
        load();
    }

    async function load() {
        let r;
        try { r = await get("/v1/schedules"); } catch (e) { return fill(list, errorBox(e)); }
        if (!r.schedules.length) return fill(list, empty("No schedules.", ctx.canWrite ? "Add one below." : "An operator can add them."));
        fill(list, table(["Name", "Type", "When", "Next", "Args", ""], r.schedules.map((s) => h("tr", { "data-name": s.name },
            h("td", null, s.name), h("td", null, s.type), h("td", { class: "mono" }, s.cron || `every ${s.every_s} s`),
            h("td", null, when(s.next_ms || s.next_at || s.next)), h("td", null, h("code", null, JSON.stringify(s.args ?? {}))),
            h("td", { class: "row-actions" }, ctx.canWrite ? [
                h("button", { type: "button", class: "run", onclick: () => act(async () => {
                    const body = { type: s.type, args: typeof s.args === "string" ? JSON.parse(s.args) : (s.args || {}) };
                    if (s.target) body.target = s.target;
                    return post("/v1/jobs", body);
                }, (j) => `Started job ${j.id}.`) }, "Run now"),
                h("button", { type: "button", class: "danger delete", onclick: () => {
                    if (window.confirm(`Delete the schedule ${s.name}?`))
                        act(() => del(`/v1/schedules/${encodeURIComponent(s.name)}`), () => `Deleted ${s.name}.`);
                } }, "Delete")] : null))), { id: "sched-table" }));
    }

    function form() {
        const f = h("form", { class: "card", id: "sched-add" }, h("h2", null, "Add a schedule"),
            h("div", { class: "form-grid" },
                h("label", { for: "s-name" }, "Name"), h("input", { id: "s-name", required: true, pattern: "[A-Za-z0-9_\\-]{1,40}" }),
                h("label", { for: "s-type" }, "Job type"), h("input", { id: "s-type", required: true, placeholder: "system.noop" }),
                h("label", { for: "s-cron" }, "Cron"), h("input", { id: "s-cron", placeholder: "30 2 * * *" }),
                h("label", { for: "s-every" }, "or every (s)"), h("input", { id: "s-every", type: "number", min: "1" }),
                h("label", { for: "s-args" }, "Args (JSON)"), h("textarea", { id: "s-args", rows: "2" }, "{}")),
            h("button", { type: "submit", class: "primary" }, "Add"));
        f.addEventListener("submit", (e) => {
            e.preventDefault();
            const v = (id) => f.querySelector(id).value.trim();
            act(() => {
                const body = { name: v("#s-name"), type: v("#s-type"), args: JSON.parse(v("#s-args") || "{}") };
                if (v("#s-cron")) body.cron = v("#s-cron");
                if (v("#s-every")) body.every_s = Number(v("#s-every"));
                return post("/v1/schedules", body);
            }, (r) => `Added ${r.name}.`);
        });
        return f;
    }
    load();
    return null;
}
