// The browser checks of tests/integration/test_dashboard.py, in order; each
// gets a fresh browser context (t.ctx) and the helpers of dashboard.js.
"use strict";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A signed-in page on `host`'s page that clicked Update... of container
// `name` once its row offers `tag`.
async function startUpdate(t, host, name, tag) {
    const page = await t.newPage(t.ctx);
    await t.signedIn(page, t.cfg.token);
    await page.evaluate((h) => { location.hash = `#/fleet/${h}`; }, host);
    const row = `#updates-table tr[data-name="${name}"]`;
    await t.waitText(page, row, tag);
    await page.click(`${row} button[data-action=update]`);
    return page;
}

module.exports = {
    async wrong_token(t) {
        const page = await t.newPage(t.ctx);
        await t.signIn(page, "not-a-token-of-this-server-0123");
        await t.waitText(page, "#signin", "not accepted");
        t.assert(await page.$eval("#top", (e) => e.hidden), "the page shell is shown after a wrong token");
        const s = await page.evaluate(() => fetch("/ui/session").then((r) => r.json()));
        t.assert(s.role === null, `a session exists after a wrong token: ${JSON.stringify(s)}`);
        await t.shoot(page, "signin-wrong-token");
        await t.axe(page, "sign-in");
    },

    async pages_show_the_test_data(t) {
        const { cfg } = t;
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, cfg.token);
        await t.visit(page, "overview", "#/", async () => {
            await t.waitText(page, "#c-workers", "2");
            await t.waitText(page, "#totals", "system.noop");
            await t.waitText(page, "#queues", "wharf.system");
            await t.waitText(page, "#failing", "system.fail");
        });
        // the 30-day window comes from the hour rollups
        await page.$$eval(".tabs button", (bs) => bs.find((b) => b.textContent === "30 d").click());
        await t.visit(page, "overview-30d", "#/", async () => {
            await t.waitText(page, "main", "Jobs per hour, last 30 d");
            await t.waitText(page, "#totals", "system.noop");
        });
        await t.visit(page, "jobs", "#/jobs", async () => {
            for (const id of [cfg.ids.ok, cfg.ids.failed, cfg.ids.running, cfg.ids.cancelled, cfg.ids.scheduled, ...cfg.ids.dead])
                await t.waitText(page, "#jobs-table", id);
        });
        await t.visit(page, "jobs-filtered", "#/jobs?state=failed", async () => {
            await t.waitText(page, "#jobs-table", cfg.ids.failed);
            const all = await t.text(page, "#jobs-table");
            t.assert(!all.includes(cfg.ids.ok), "the failed filter lists a succeeded job");
        });
        await t.visit(page, "job-failed", `#/jobs/${cfg.ids.failed}`, async () => {
            await t.waitText(page, "#job-error", "boom");
            await t.waitText(page, "h1", "failed");
        });
        await t.visit(page, "job-succeeded", `#/jobs/${cfg.ids.ok}`, async () => {
            await t.waitText(page, "h1", "succeeded");
            await t.waitText(page, "#result", "dashboard"); // system.noop answers with its args
        });
        await t.visit(page, "dead", "#/dead", async () => {
            for (const id of cfg.ids.dead) await t.waitText(page, "#dead-table", id);
        });
        await t.visit(page, "schedules", "#/schedules", async () => {
            await t.waitText(page, "#sched-table", cfg.schedule);
        });
        await t.visit(page, "workers", "#/workers", async () => {
            await page.waitForFunction(() => document.querySelectorAll("#workers-table tbody tr").length === 2);
        });
    },

    async fleet_lists_the_host_and_its_container(t) {
        const { host, container } = t.cfg.fleet;
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, t.cfg.token);
        await t.visit(page, "fleet", "#/fleet", async () => {
            await t.waitText(page, "#hosts-table", host);
            await t.waitText(page, "#hosts-table", "3 running");
        });
        await page.click(`#hosts-table a[href="#/fleet/${host}"]`);
        await t.visit(page, "fleet-host", `#/fleet/${host}`, async () => {
            await t.waitText(page, "h1", host);
            await t.waitText(page, `#containers-table tr[data-name="${container}"]`, "running");
            await t.waitText(page, "#updates-table", "1.1 (minor)");
            const buttons = await page.$$eval(`#containers-table tr[data-name="${container}"] button`,
                (bs) => bs.map((b) => b.textContent));
            t.assert(buttons.join(",") === "start,stop,restart,remove", `container actions: ${buttons}`);
        });
    },

    async fleet_container_charts_and_live_output(t) {
        const { host, container } = t.cfg.fleet;
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, t.cfg.token);
        await page.evaluate((h) => { location.hash = `#/fleet/${h}`; }, host);
        await page.waitForSelector(`#containers-table tr[data-name="${container}"] a`);
        await page.click(`#containers-table tr[data-name="${container}"] a`);
        // the stream is followed before anything fills it
        await t.waitText(page, "#log-status", "no output in it yet");
        t.assert((await page.$$(".log-line")).length === 0, "output lines before any logs job ran");
        // the charts come from the two stats sweeps the test ran
        await t.waitText(page, "h1", "running");
        for (const id of ["#chart-cpu", "#chart-mem"]) {
            await t.waitText(page, `${id} figcaption`, "last: ");
            const bars = await page.$$eval(`${id} rect.bar-ok`, (r) => r.length);
            t.assert(bars >= 1, `${id} has ${bars} bars`);
        }
        const mem = await t.text(page, "#chart-mem figcaption");
        t.assert(/last: [1-9][0-9.]* (B|KiB|MiB)/.test(mem), `the memory chart says: ${mem}`);
        await page.click("#log-follow");
        await t.waitText(page, "#log-note", "Copying the output");
        const jid = (await t.text(page, "#log-note")).match(/job ([A-Za-z0-9_-]+)/)[1];
        // lines the container prints from now on arrive while the page is open
        await t.waitText(page, "#log", "dash line ", 30000);
        const newest = async () => Math.max(0, ...(await page.$$eval(".log-line", (ls) => ls.map((l) => {
            const m = l.textContent.match(/dash line (\d+)/);
            return m ? Number(m[1]) : 0;
        }))));
        const first = await newest();
        await t.until("a newer line to arrive", async () => (await newest()) > first + 1, 20000);
        const here = await page.evaluate(() => location.hash);
        await t.visit(page, "fleet-container", here, async () => { await t.waitText(page, "#log", "dash line "); });
        const c = await t.api("POST", `/v1/jobs/${jid}/cancel`);
        t.assert(c.status === 200 || c.status === 202, `cancel of the logs job: ${c.status}`);
    },

    async fleet_update_plan_then_update(t) {
        const { host, update_ok: name } = t.cfg.fleet;
        const page = await startUpdate(t, host, name, "1.1");
        await t.visit(page, "fleet-update-plan", `#/fleet/${host}`, async () => {
            await t.waitText(page, "#update-plan", "the plan", 60000);
        }).catch(async (e) => { throw new Error(`${e.message}; panel: ${await t.text(page, "#update-panel")}`); });
        const plan = await t.text(page, "#update-plan");
        for (const want of ["dash/ok:1.0", "dash/ok:1.1", "pull", "start new", `${name}-wharf-new`, "Running nowyes"])
            t.assert(plan.includes(want), `the plan lacks "${want}": ${plan}`);
        // the dry run changed nothing
        const before = await t.api("GET", `/v1/hosts/${host}/containers/${name}`);
        t.assert(before.body.image.endsWith("dash/ok:1.0"), `after the dry run: ${JSON.stringify(before.body)}`);
        await page.click("#update-confirm");
        await t.waitText(page, "#update-outcome", "Updated: ", 90000).catch(async (e) => {
            throw new Error(`${e.message}; panel: ${await t.text(page, "#update-panel")}`);
        });
        // the page read the host again: the container runs the new tag, and
        // a check of it found nothing newer
        await t.waitText(page, `#containers-table tr[data-name="${name}"]`, "dash/ok:1.1", 30000);
        await t.waitText(page, `#updates-table tr[data-name="${name}"]`, "up to date", 60000);
        t.assert(!page.errors.length, `console errors: ${page.errors.join(" | ")}`);
    },

    async fleet_update_rolls_back(t) {
        const { host, update_bad: name } = t.cfg.fleet;
        const id = (await t.api("GET", `/v1/hosts/${host}/containers/${name}`)).body.id;
        const page = await startUpdate(t, host, name, "2.0");
        await t.waitText(page, "#update-plan", "dash/app:2.0", 60000);
        const t0 = Date.now();
        await page.click("#update-confirm");
        await t.visit(page, "fleet-update-rolled-back", `#/fleet/${host}`, async () => {
            await t.waitText(page, "#update-outcome", "Rolled back: ", 90000);
        });
        await t.waitText(page, "#update-outcome", "the old container is back");
        // the page read the host again after the rollback: the old container runs
        await t.until("a sync after the rollback", async () =>
            (await t.api("GET", `/v1/hosts/${host}/containers`)).body.synced_at > t0, 30000);
        const after = (await t.api("GET", `/v1/hosts/${host}/containers/${name}`)).body;
        t.assert(after.id === id && after.state === "running",
            `after the rollback: ${id} -> ${after.id}, ${after.state}`);
    },

    async live_log_on_the_job_page(t) {
        const { cfg } = t;
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, cfg.token);
        // due in 10 s: time to open its page before it runs, even on a busy machine
        const r = await t.api("POST", "/v1/jobs", { type: "system.log", args: { lines: 3000 }, run_at: Date.now() + 10000 });
        t.assert(r.status === 201, `submit: ${r.status} ${JSON.stringify(r.body)}`);
        await page.evaluate((id) => { location.hash = `#/jobs/${id}`; }, r.body.id);
        await t.waitText(page, "h1", "scheduled");
        t.assert((await page.$$(".log-line")).length === 0, "log lines before the job ran");
        // the page was open before the job ran: these lines came over SSE
        await page.waitForFunction(() => document.querySelectorAll(".log-line").length > 0, { timeout: 30000 });
        await t.waitText(page, "h1", "succeeded", 30000);
        await t.waitText(page, "#log", "line 3000 ", 10000);
        const rendered = (await page.$$(".log-line")).length;
        t.assert(rendered < 200, `the log view rendered ${rendered} of 3000 lines (only visible ones expected)`);
        await t.shoot(page, "job-log");
        t.assert(!page.errors.length, `console errors: ${page.errors.join(" | ")}`);
    },

    async read_only_token(t) {
        const { cfg } = t;
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, cfg.read_token);
        await t.waitText(page, "#who", "read-only");
        await page.evaluate((id) => { location.hash = `#/jobs/${id}`; }, cfg.ids.running);
        await t.waitText(page, "h1", "running");
        t.assert(!(await page.$("#cancel")), "a read-only session sees the cancel button");
        await page.evaluate(() => { location.hash = "#/workers"; });
        await page.waitForFunction(() => document.querySelectorAll("#workers-table tbody tr").length === 2);
        t.assert(!(await page.$("#workers-table button")), "a read-only session sees worker buttons");
        await page.evaluate(() => { location.hash = "#/dead"; });
        await page.waitForSelector("#dead-table");
        t.assert(!(await page.$("#dead-retry")) && !(await page.$("#dead-purge")) && !(await page.$(".dead-box")),
            "a read-only session sees dead-letter buttons");
        await page.evaluate(() => { location.hash = "#/schedules"; });
        await page.waitForSelector("#sched-table");
        t.assert(!(await page.$("#sched-add")) && !(await page.$("#sched-table button")),
            "a read-only session sees schedule buttons");
        await t.shoot(page, "schedules-read-only");
        const { host, container } = cfg.fleet;
        await page.evaluate((h) => { location.hash = `#/fleet/${h}`; }, host);
        await t.waitText(page, "#containers-table", container);
        await t.waitText(page, "#updates-table", cfg.fleet.update_bad);
        t.assert(!(await page.$("#containers-table button")) && !(await page.$("#updates-table button")) &&
            !(await page.$("#update-check")), "a read-only session sees fleet buttons");
        await t.shoot(page, "fleet-host-read-only");
        await page.evaluate((h, c) => { location.hash = `#/fleet/${h}/${c}`; }, host, container);
        await t.waitText(page, "#log-status", "Following");
        t.assert(!(await page.$("#log-follow")), "a read-only session sees the button that copies the output");
        const fleetSt = await page.evaluate(async (h, c) => {
            const s = await (await fetch("/ui/session")).json();
            const out = [];
            for (const a of ["stop", "remove", "update"]) {
                const r = await fetch(`/v1/hosts/${h}/containers/${c}/${a}`, { method: "POST",
                    headers: { "X-CSRF-Token": s.csrf, "Content-Type": "application/json" }, body: "{}" });
                out.push(r.status);
            }
            return out;
        }, host, container);
        t.assert(fleetSt.every((x) => x === 403), `a read-only session's fleet actions answered ${fleetSt}`);
        // the API refuses its writes even with a good CSRF token
        const st = await page.evaluate(async (id) => {
            const s = await (await fetch("/ui/session")).json();
            const r = await fetch(`/v1/jobs/${id}/cancel`, { method: "POST", headers: { "X-CSRF-Token": s.csrf } });
            return r.status;
        }, cfg.ids.running);
        t.assert(st === 403, `a read-only session's cancel answered ${st}`);
        const j = await t.api("GET", `/v1/jobs/${cfg.ids.running}`);
        t.assert(j.body.state === "running", `the job is ${j.body.state} after a read-only cancel`);
    },

    async cross_site_post_refused(t) {
        const { cfg } = t;
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, cfg.token);
        for (const attack of cfg.attack_urls) {
            // another origin's page posts a form to the cancel route
            const nav = page.waitForNavigation({ waitUntil: "load" });
            await page.goto(attack, { waitUntil: "load" });
            const resp = await nav;
            const st = resp ? resp.status() : 0;
            t.assert(st === 403 || st === 401, `${attack}: the cross-site cancel answered ${st}`);
        }
        const j = await t.api("GET", `/v1/jobs/${cfg.ids.running}`);
        t.assert(j.body.state === "running", `the job is ${j.body.state} after cross-site posts`);
    },

    async cancel_from_the_job_page(t) {
        const { cfg } = t;
        const r = await t.api("POST", "/v1/jobs", { type: "system.sleep", args: { ms: 600000 } });
        await t.until("the job to run", async () => (await t.api("GET", `/v1/jobs/${r.body.id}`)).body.state === "running");
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, cfg.token);
        await page.evaluate((id) => { location.hash = `#/jobs/${id}`; }, r.body.id);
        await t.waitText(page, "h1", "running");
        await page.click("#cancel");
        await t.waitText(page, "h1", "cancelled", 30000);
        const j = await t.api("GET", `/v1/jobs/${r.body.id}`);
        t.assert(j.body.state === "cancelled", `the API says ${j.body.state}`);
        t.assert(!page.errors.length, `console errors: ${page.errors.join(" | ")}`);
    },

    async fleet_stop_and_remove_from_the_host_page(t) {
        const { host, container, spare } = t.cfg.fleet;
        const page = await t.newPage(t.ctx);
        let answer = false;
        page.on("dialog", (d) => (answer ? d.accept() : d.dismiss()));
        await t.signedIn(page, t.cfg.token);
        await page.evaluate((h) => { location.hash = `#/fleet/${h}`; }, host);
        const row = `#containers-table tr[data-name="${container}"]`;
        await t.waitText(page, row, "running");
        await page.click(`${row} button[data-action=stop]`);
        await t.waitText(page, "#fleet-note", `stop ${container}: done`, 60000).catch(async (e) => {
            throw new Error(`${e.message}; note: ${await t.text(page, "#fleet-note")}`);
        });
        await t.waitText(page, row, "exited", 30000);
        const c = (await t.api("GET", `/v1/hosts/${host}/containers/${container}`)).body;
        t.assert(c.state === "exited", `the API says ${c.state}`);
        // remove asks first: no, then yes
        const spareRow = `#containers-table tr[data-name="${spare}"]`;
        await page.click(`${spareRow} button[data-action=remove]`);
        await new Promise((r) => setTimeout(r, 500));
        t.assert(!(await t.text(page, "#fleet-note")).includes(`remove ${spare}`), "remove ran without a yes");
        answer = true;
        await page.click(`${spareRow} button[data-action=remove]`);
        await t.waitText(page, "#fleet-note", `remove ${spare}: done`, 60000);
        await page.waitForFunction((s) => !document.querySelector(s), { timeout: 30000 }, spareRow);
        t.assert(!page.errors.length, `console errors: ${page.errors.join(" | ")}`);
    },

    async bulk_retry_of_dead_letters(t) {
        const { cfg } = t;
        const before = {};
        for (const id of cfg.ids.dead) before[id] = (await t.api("GET", `/v1/jobs/${id}`)).body;
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, cfg.token);
        await page.evaluate(() => { location.hash = "#/dead"; });
        for (const id of cfg.ids.dead) await t.waitText(page, "#dead-table", id);
        await page.type("#dead-filter", "dashdead");
        await page.click("#dead-all");
        await page.click("#dead-retry");
        await t.waitText(page, "#dead-note", `Retried ${cfg.ids.dead.length} of ${cfg.ids.dead.length}`);
        // each ran again (and, failing by design, died again later)
        for (const id of cfg.ids.dead)
            await t.until(`${id} to run again`, async () => {
                const j = (await t.api("GET", `/v1/jobs/${id}`)).body;
                return j.queued_at > before[id].queued_at;
            });
        t.assert(!page.errors.length, `console errors: ${page.errors.join(" | ")}`);
    },

    async purge_selected_dead_letters(t) {
        const { cfg } = t;
        const id = cfg.ids.dead[0];
        // retried above, each fails again by design and is dead again
        await t.until(`${id} to be a dead letter again`, async () =>
            (await t.api("GET", "/v1/dead")).body.dead.some((d) => d.id === id), 60000);
        const page = await t.newPage(t.ctx);
        page.on("dialog", (d) => d.accept()); // the purge confirmation
        await t.signedIn(page, cfg.token);
        await page.evaluate(() => { location.hash = "#/dead"; });
        await t.waitText(page, "#dead-table", id);
        await page.type("#dead-filter", id);
        await page.click("#dead-all");
        await page.click("#dead-drop");
        await t.waitText(page, "#dead-note", "Purged 1 of 1");
        const left = (await t.api("GET", "/v1/dead")).body.dead.map((d) => d.id);
        t.assert(!left.includes(id), `${id} is still in the dead queue`);
        t.assert(cfg.ids.dead.slice(1).every((d) => left.includes(d)) || cfg.ids.dead.length === 1,
            `the other dead letters went too: ${left.join(", ")}`);
        t.assert((await t.api("GET", `/v1/jobs/${id}`)).body.state === "dead", `${id} is no longer dead`);
        t.assert(!page.errors.length, `console errors: ${page.errors.join(" | ")}`);
    },

    async schedules_add_run_now_delete(t) {
        const page = await t.newPage(t.ctx);
        page.on("dialog", (d) => d.accept()); // the delete confirmation
        await t.signedIn(page, t.cfg.token);
        await page.evaluate(() => { location.hash = "#/schedules"; });
        await page.waitForSelector("#sched-add");
        const name = `dashhourly-${Date.now()}`;
        await page.type("#s-name", name);
        await page.type("#s-type", "system.noop");
        await page.type("#s-every", "3600");
        await page.$eval("#s-args", (e) => { e.value = '{"made": "in the browser"}'; });
        await page.click("#sched-add button[type=submit]");
        await t.waitText(page, "#sched-note", `Added ${name}`);
        await t.waitText(page, "#sched-table", name);
        const listed = await t.api("GET", "/v1/schedules");
        const s = listed.body.schedules.find((x) => x.name === name);
        t.assert(s && s.every_s === 3600 && s.args.made === "in the browser", `the API lists ${JSON.stringify(s)}`);
        await page.click(`tr[data-name="${name}"] button.run`);
        await t.waitText(page, "#sched-note", "Started job ");
        const jid = (await t.text(page, "#sched-note")).match(/Started job ([A-Za-z0-9_-]+)/)[1];
        await t.until(`${jid} to succeed`, async () => (await t.api("GET", `/v1/jobs/${jid}`)).body.state === "succeeded");
        await page.click(`tr[data-name="${name}"] button.delete`);
        await t.waitText(page, "#sched-note", `Deleted ${name}`);
        const after = await t.api("GET", "/v1/schedules");
        t.assert(!after.body.schedules.some((x) => x.name === name), "the schedule is still listed after delete");
        t.assert(!page.errors.length, `console errors: ${page.errors.join(" | ")}`);
    },

    async keyboard_and_phone_width(t) {
        const page = await t.newPage(t.ctx, 390, 844);
        await t.signedIn(page, t.cfg.token);
        await t.waitText(page, "#c-workers", "2");
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        t.assert(wide <= 392, `the overview is ${wide}px wide at a 390px viewport`);
        await page.screenshot({ path: `${t.cfg.shots}/overview-phone-light.png`, fullPage: true });
        // from a fresh load, Tab reaches the skip link first, then the page links
        await page.reload({ waitUntil: "load" });
        await t.waitText(page, "#c-workers", "2");
        await page.keyboard.press("Tab");
        t.assert((await page.evaluate(() => document.activeElement.className)) === "skip", "Tab does not reach the skip link first");
        let hops = 0;
        while ((await page.evaluate(() => document.activeElement.textContent)) !== "Jobs" && hops++ < 10)
            await page.keyboard.press("Tab");
        await page.keyboard.press("Enter");
        await page.waitForFunction(() => location.hash === "#/jobs");
    },

    async search_args_show_them_and_retry_as_new(t) {
        const { cfg } = t;
        const needle = `Needle-${Date.now()}`;
        const made = await t.api("POST", "/v1/jobs", { type: "system.noop", target: cfg.fleet.host, max_attempts: 2,
            args: { find: `the ${needle} here`, n: 7 } });
        t.assert(made.status === 201, `submit: ${made.status} ${JSON.stringify(made.body)}`);
        const id = made.body.id;
        await t.until(`${id} to succeed`, async () => (await t.api("GET", `/v1/jobs/${id}`)).body.state === "succeeded");
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, cfg.token);
        // the search box, typed in as a person would (ASCII case ignored)
        await page.evaluate(() => { location.hash = "#/jobs"; });
        await page.waitForSelector("#f-q");
        await page.type("#f-q", needle.toLowerCase());
        await page.click("form.filters button[type=submit]");
        await t.visit(page, "jobs-search", `#/jobs?q=${needle.toLowerCase()}`, async () => {
            await t.waitText(page, "#jobs-table", id);
            await t.waitText(page, "#jobs-table", needle);
            const rows = await page.$$eval("#jobs-table tbody tr", (rs) => rs.length);
            t.assert(rows === 1, `the search lists ${rows} jobs, not 1`);
        });
        await t.visit(page, "job-args", `#/jobs/${id}`, async () => {
            await t.waitText(page, "h1", "succeeded");
            await t.waitText(page, "#args", needle);
            await t.waitText(page, "#args", '"n": 7');
        });
        await page.click("#retry");
        await page.waitForFunction((old) => location.hash.startsWith("#/jobs/") && location.hash !== `#/jobs/${old}`,
            { timeout: 20000 }, id);
        const copy = decodeURIComponent((await page.evaluate(() => location.hash)).slice("#/jobs/".length));
        await t.waitText(page, "h1", "succeeded", 30000);
        await t.waitText(page, "#args", needle);
        const j = (await t.api("GET", `/v1/jobs/${copy}`)).body;
        t.assert(j.state === "succeeded" && j.type === "system.noop" && j.target === cfg.fleet.host &&
            j.max_attempts === 2 && JSON.stringify(j.args) === JSON.stringify({ find: `the ${needle} here`, n: 7 }),
        `the new job is ${JSON.stringify(j)}`);
        t.assert(!page.errors.length, `console errors: ${page.errors.join(" | ")}`);
    },

    async quiet_from_the_workers_page(t) {
        const page = await t.newPage(t.ctx);
        const asked = [];
        page.on("dialog", (d) => { asked.push(d.message()); d.accept(); }); // the confirmation
        await t.signedIn(page, t.cfg.token);
        await t.visit(page, "workers-buttons", "#/workers", async () => {
            await page.waitForFunction(() => document.querySelectorAll("#workers-table tbody tr button.quiet").length === 2);
        });
        const id = await page.$eval("#workers-table tbody tr", (r) => r.dataset.id);
        await page.$eval("#workers-table tbody tr button.quiet", (b) => b.click());
        await t.waitText(page, "#workers-note", `Asked ${id} to quiet`);
        t.assert(asked.length === 1 && asked[0].includes(id), `the confirmation asked ${JSON.stringify(asked)}`);
        // the worker acts at its next heartbeat; the page polls every 5 s
        await page.waitForFunction((w) => {
            const row = [...document.querySelectorAll("#workers-table tbody tr")].find((r) => r.dataset.id === w);
            return row && row.querySelector(".mode").textContent === "quiet" && !row.querySelector("button.quiet");
        }, { timeout: 30000 }, id);
        const w = (await t.api("GET", "/v1/workers")).body.workers.find((x) => x.id === id);
        t.assert(w && w.state === "quiet", `the API says ${JSON.stringify(w)}`);
        await t.shoot(page, "workers-quiet");
        await t.axe(page, "workers-quiet");
        t.assert(!page.errors.length, `console errors: ${page.errors.join(" | ")}`);
    },

    async logout(t) {
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, t.cfg.token);
        await page.click("#logout");
        await page.waitForSelector("#signin");
        await page.reload({ waitUntil: "load" });
        await page.waitForSelector("#signin");
        const st = await page.evaluate(() => fetch("/v1/workers").then((r) => r.status));
        t.assert(st === 401, `the API answered ${st} after logout`);
    },

    async expired_session(t) {
        const { cfg } = t;
        const page = await t.newPage(t.ctx);
        await t.signedIn(page, cfg.short_token, cfg.short_url);
        await sleep((cfg.short_ttl_s + 1) * 1000);
        await page.evaluate(() => { location.hash = "#/workers"; });
        await t.waitText(page, "#signin", "session has ended");
        await t.shoot(page, "signin-expired");
    },
};
