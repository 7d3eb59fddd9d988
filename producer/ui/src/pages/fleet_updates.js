// A host's available updates (the last registry.update_check), and the
// one-click update: first the dry run's plan (registry.update_container
// with dry_run), then, once confirmed, the update itself and how it ended:
// updated, nothing newer, or rolled back with the reason.
import { get, post } from "../api.js";
import { h, fill, when, empty, table, errorBox } from "../dom.js";
import { parsed, failure, jobLink, jobLine } from "../jobwait.js";

// What an entry offers, or "" when nothing.
function offer(e) {
    if (e.status !== "ok") return "";
    if (e.kind === "tag" && e.candidate_tag) return `${e.candidate_tag}${e.semver_diff ? ` (${e.semver_diff})` : ""}`;
    if (e.kind === "digest" || e.digest_changed) return `a new image for ${e.current_tag || "its tag"}`;
    return "";
}

function statusText(e) {
    if (e.status === "error") return `error: ${e.error || ""}${e.error_message ? ` (${e.error_message})` : ""}`;
    if (e.status === "no_registry") return "no registry in the inventory serves its image";
    if (e.status === "unsupported") return "cannot be checked (image given by id)";
    return offer(e) ? "update available" : "up to date";
}

// {el, load}: the section for `host`; `jobs` follows jobs (tracker()),
// afterChange() runs once a container changed.
export function updatesSection(host, ctx, jobs, afterChange) {
    const base = `/v1/hosts/${encodeURIComponent(host)}`;
    const list = h("div"), panel = h("div", { id: "update-panel", "aria-live": "polite" });
    const check = ctx.canWrite ? h("button", { type: "button", id: "update-check", onclick: () => runCheck() },
        "Check for updates") : null;
    const el = h("section", { "aria-labelledby": "updates-h" }, h("h2", { id: "updates-h" }, "Updates"),
        check ? h("div", { class: "actions" }, check) : null, panel, list);

    async function load() {
        let r;
        try { r = await get(`${base}/updates`); } catch (e) { return fill(list, errorBox(e)); }
        if (!r.containers.length) return fill(list, empty("No update check yet.",
            `A registry.update_check job on ${host} compares each container's image with its registry.`));
        r.containers.sort((a, b) => String(a.container).localeCompare(String(b.container)));
        fill(list, table(["Container", "Image", "Status", "Update to", "Checked", ""], r.containers.map((e) =>
            h("tr", { "data-name": e.container },
                h("td", null, e.container), h("td", { class: "mono" }, e.image || "—"), h("td", null, statusText(e)),
                h("td", null, offer(e) || "—"), h("td", null, when(e.checked_at)),
                h("td", { class: "row-actions" }, ctx.canWrite && offer(e) ? h("button", { type: "button", class: "primary",
                    "data-action": "update", "aria-label": `Update ${e.container}`, onclick: () => plan(e) }, "Update…") : null))),
            { id: "updates-table" }));
    }

    // A registry.update_check of the host (names null) or of the named
    // containers, then the list again; the finished job.
    async function recheck(names, onUpdate) {
        const j = await post("/v1/jobs", { type: "registry.update_check", target: host,
            args: names ? { containers: names } : {} });
        const done = await jobs.follow(j.id, onUpdate);
        await load();
        return done;
    }

    async function runCheck() {
        try {
            const done = await recheck(null, (s) => fill(panel, jobLine("Update check", s)));
            fill(panel, done.state === "succeeded" ? null : [jobLine("Update check", done), errorBox(failure(done))]);
        } catch (e) {
            fill(panel, errorBox(e));
        }
    }

    // Submit update with `body`, follow it; the finished job.
    async function submit(name, body, what) {
        const j = await post(`${base}/containers/${encodeURIComponent(name)}/update`, body);
        return jobs.follow(j.id, (s) => fill(panel, h("h3", null, `Update ${name}`), jobLine(what, s)));
    }

    async function plan(e) {
        const name = e.container, body = e.kind === "tag" && e.candidate_tag ? { tag: e.candidate_tag } : {};
        try {
            const done = await submit(name, { ...body, dry_run: true }, "Dry run");
            if (done.state !== "succeeded")
                return fill(panel, h("h3", null, `Update ${name}`), jobLine("Dry run", done), errorBox(failure(done)));
            showPlan(name, parsed(done.result) || {}, done.id, body);
        } catch (x) {
            fill(panel, errorBox(x));
        }
    }

    function showPlan(name, r, id, body) {
        const p = r.plan || {};
        const names = (a) => (Array.isArray(a) && a.length ? a.join(", ") : "none");
        fill(panel, h("div", { class: "card", id: "update-plan" }, h("h3", null, `Update ${name}: the plan`),
            h("dl", { class: "kv plain" },
                h("dt", null, "From"), h("dd", { class: "mono" }, r.from_image || "—"),
                h("dt", null, "To"), h("dd", { class: "mono" }, r.to_image || "—"),
                h("dt", null, "Steps"), h("dd", null, h("ol", { class: "steps" }, (p.steps || []).map((s) => h("li", null, s.replace(/_/g, " "))))),
                h("dt", null, "Meanwhile named"), h("dd", { class: "mono" }, p.temp_name || "—"),
                h("dt", null, "Binds kept"), h("dd", { class: "mono" }, names(p.binds)),
                h("dt", null, "Networks kept"), h("dd", null, names(p.networks)),
                h("dt", null, "Running now"), h("dd", null, p.was_running ? "yes" : "no")),
            h("p", { class: "muted" }, "Dry run: job ", jobLink(id), ". Nothing changed yet. If the new container does not " +
                "come up, the old one is put back."),
            h("div", { class: "actions" },
                h("button", { type: "button", class: "primary", id: "update-confirm", onclick: () => apply(name, body) }, "Update now"),
                h("button", { type: "button", id: "update-cancel", onclick: () => fill(panel) }, "Cancel"))));
        panel.querySelector("#update-confirm").focus();
    }

    async function apply(name, body) {
        try {
            const done = await submit(name, body, "Update");
            fill(panel, h("h3", null, `Update ${name}`), outcome(done));
            if (done.state !== "succeeded" && parsed(done.error) !== "rolled_back") return;
            await afterChange();
            if (done.state === "succeeded") await recheck([name]); // what it runs now; the outcome stays
        } catch (x) {
            fill(panel, errorBox(x));
        }
    }
    load();
    return { el, load };
}

function outcome(j) {
    const r = parsed(j.result) || {};
    const link = ["(job ", jobLink(j.id), "; its log has every step)"];
    if (j.state === "succeeded")
        return h("p", { class: "ok", id: "update-outcome" }, r.updated
            ? `Updated: ${r.from_image} → ${r.to_image}, new container ${String(r.new_id || "").slice(0, 12)} `
            : `Nothing newer for ${r.to_image}: the container was left alone `, link);
    if (parsed(j.error) === "rolled_back")
        return h("div", { class: "error", id: "update-outcome", role: "alert" }, `Rolled back: ${j.error_message || ""} `, link);
    return h("div", { class: "error", id: "update-outcome", role: "alert" }, `The update failed: ${failure(j)} `, link);
}
