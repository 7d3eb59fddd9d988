// Dead letters: the dead queue with reasons; select some or all matching a
// filter and retry or purge them, or purge the whole queue.
import { get, post } from "../api.js";
import { h, fill, empty, table, errorBox, when } from "../dom.js";

export function render(main, params, ctx) {
    const filter = h("input", { id: "dead-filter", placeholder: "type, id or reason", "aria-label": "Filter dead letters" });
    const list = h("div");
    const note = h("div", { "aria-live": "polite", id: "dead-note" });
    const all = h("input", { type: "checkbox", id: "dead-all", "aria-label": "Select all matching" });
    const retry = h("button", { type: "button", id: "dead-retry", class: "primary" }, "Retry selected");
    const drop = h("button", { type: "button", id: "dead-drop", class: "danger" }, "Purge selected");
    const purge = h("button", { type: "button", id: "dead-purge", class: "danger" }, "Purge the dead queue");
    let rows = [];
    const bar = ctx.canWrite ? h("div", { class: "actions" }, retry, drop, purge) : null;
    fill(main, h("h1", null, "Dead letters"), h("div", { class: "filters" }, h("label", null, "Filter ", filter)),
        bar, note, list);

    const matches = (d) => !filter.value || JSON.stringify(d).toLowerCase().includes(filter.value.toLowerCase());

    function draw() {
        const shown = rows.filter((r) => matches(r.d));
        if (!rows.length) return fill(list, empty("The dead queue is empty.", "Jobs land here after their last attempt fails."));
        if (!shown.length) return fill(list, empty("No dead letter matches the filter."));
        const head = [ctx.canWrite ? all : "", "Job", "Family", "Reason", "Attempts", "Died"];
        fill(list, table(head, shown.map((r) => h("tr", null,
            h("td", null, ctx.canWrite ? r.box : null),
            h("td", null, h("a", { class: "mono", href: `#/jobs/${encodeURIComponent(r.d.id)}` }, r.d.id)),
            h("td", null, r.d.family || "—"), h("td", null, reason(r.d)), h("td", { class: "num" }, r.d.attempts ?? "—"),
            h("td", null, when(ms(r.d["dead-at"]))))),
            { id: "dead-table" }));
    }

    async function load() {
        try {
            const r = await get("/v1/dead?limit=1000");
            rows = r.dead.map((d) => ({ d, box: h("input", { type: "checkbox", class: "dead-box", "aria-label": `Select ${d.id}` }) }));
            all.checked = false;
            draw();
        } catch (e) {
            fill(list, errorBox(e));
        }
    }

    filter.addEventListener("input", draw);
    all.addEventListener("change", () => { for (const r of rows) if (matches(r.d)) r.box.checked = all.checked; });
    // Each selected letter, one at a time (each is a queue operation).
    async function each(verb, done, path) {
        const picked = rows.filter((r) => r.box.checked && matches(r.d));
        if (!picked.length) return fill(note, errorBox(`Select the dead letters to ${verb} first.`));
        if (verb === "purge" && !window.confirm(`Purge ${picked.length} dead letter(s)? This cannot be undone.`)) return;
        let ok = 0;
        const failed = [];
        for (const r of picked) {
            try { await post(path, { id: r.d.id }); ok++; } catch (e) { failed.push(`${r.d.id}: ${e.message}`); }
        }
        fill(note, h("p", { class: "ok" }, `${done} ${ok} of ${picked.length}.`), failed.length ? errorBox(failed.join("; ")) : null);
        load();
    }
    retry.addEventListener("click", () => each("retry", "Retried", "/v1/dead/retry"));
    drop.addEventListener("click", () => each("purge", "Purged", "/v1/dead/purge"));
    purge.addEventListener("click", async () => {
        if (!window.confirm("Purge every message in the dead queue? This cannot be undone.")) return;
        try {
            const r = await post("/v1/dead/purge");
            fill(note, h("p", { class: "ok" }, `Purged ${r.purged}.`));
        } catch (e) {
            fill(note, errorBox(e));
        }
        load();
    });
    load();
    return null;
}

// The dead queue's headers: error-code, error (the message), reason.
function reason(d) {
    const what = [d["error-code"], d.error].filter(Boolean).join(": ");
    return (what || "—") + (d.reason ? ` (${d.reason})` : "");
}

// dead-at: ms since the epoch, as a number or a string.
function ms(v) {
    return Number(v) || 0;
}
