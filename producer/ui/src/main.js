// The dashboard's entry: sign-in, the page shell and the hash router.
// Pages are modules with render(main, params, ctx) returning a cleanup
// function (which stops their polls and streams).
import { api, setSession } from "./api.js";
import { h, fill, errorBox } from "./dom.js";
import * as overview from "./pages/overview.js";
import * as jobs from "./pages/jobs.js";
import * as job from "./pages/job.js";
import * as dead from "./pages/dead.js";
import * as schedules from "./pages/schedules.js";
import * as workers from "./pages/workers.js";
import * as fleet from "./pages/fleet.js";
import * as container from "./pages/container.js";

const PAGES = [
    { re: /^#?\/?$/, page: overview, nav: "#/", label: "Overview" },
    { re: /^#\/jobs$/, page: jobs, nav: "#/jobs", label: "Jobs" },
    { re: /^#\/jobs\/([A-Za-z0-9_-]{1,64})$/, page: job, navOf: "#/jobs", title: "Job" },
    { re: /^#\/dead$/, page: dead, nav: "#/dead", label: "Dead letters" },
    { re: /^#\/schedules$/, page: schedules, nav: "#/schedules", label: "Schedules" },
    { re: /^#\/workers$/, page: workers, nav: "#/workers", label: "Workers" },
    { re: /^#\/fleet$/, page: fleet, nav: "#/fleet", label: "Fleet" },
    { re: /^#\/fleet\/([^/?]{1,253})$/, page: fleet, navOf: "#/fleet", title: "Host" },
    { re: /^#\/fleet\/([^/?]{1,253})\/([^/?]{1,128})$/, page: container, navOf: "#/fleet", title: "Container" },
];

const ctx = { role: null, canWrite: false };
let cleanup = null;

function $(id) { return document.getElementById(id); }

function leave() {
    if (cleanup) cleanup();
    cleanup = null;
}

function route() {
    if (!ctx.role) return;
    leave();
    const hash = location.hash.split("?")[0];
    const main = $("main");
    for (const p of PAGES) {
        const m = hash.match(p.re);
        if (!m) continue;
        const current = p.nav || p.navOf;
        for (const a of $("nav").querySelectorAll("a")) {
            if (a.getAttribute("href") === current) a.setAttribute("aria-current", "page");
            else a.removeAttribute("aria-current");
        }
        document.title = `${p.label || p.title} · wharf`;
        fill(main);
        cleanup = p.page.render(main, m.slice(1), ctx) || null;
        return;
    }
    fill(main, h("h1", null, "Not found"), h("p", null, h("a", { href: "#/" }, "Back to the overview")));
}

function shell() {
    $("top").hidden = false;
    fill($("nav"), PAGES.filter((p) => p.label).map((p) => h("a", { href: p.nav }, p.label)));
    fill($("who"), ctx.role === "read" ? h("span", { class: "badge st-readonly" }, "read-only") : null);
    $("logout").hidden = !!ctx.noAuth;
}

async function signOut() {
    try { await api("POST", "/ui/logout", {}, { noSignout: true }); } catch (e) { /* signed out anyway */ }
    signedOut("");
}

// Show the sign-in form; why: "expired" when a session ran out.
function signedOut(why) {
    leave();
    ctx.role = null;
    ctx.canWrite = false;
    $("top").hidden = true;
    document.title = "Sign in · wharf";
    const msg = h("div", { "aria-live": "polite" });
    if (why === "expired") msg.append(errorBox("Your session has ended. Sign in again."));
    const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "current-password",
                               required: true, minlength: 16, "aria-describedby": "token-hint" });
    const form = h("form", { class: "card signin", id: "signin" },
        h("h1", null, "Sign in to wharf"),
        h("label", { for: "token" }, "API token"), input,
        h("p", { id: "token-hint", class: "muted" },
          "A bearer token of this server (serve.token_file), or a read-only one (serve.read_token_file)."),
        msg, h("button", { type: "submit", class: "primary" }, "Sign in"));
    form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        fill(msg);
        try {
            const s = await api("POST", "/ui/login", { token: input.value }, { noSignout: true });
            input.value = "";
            start(s);
            $("main").focus(); // the form is gone: continue from the page
        } catch (e) {
            fill(msg, errorBox(e.status === 401 ? "That token is not accepted." : e));
            input.focus();
        }
    });
    fill($("main"), form);
    input.focus();
}

function start(s) {
    ctx.role = s.role;
    ctx.noAuth = s.no_auth;
    ctx.canWrite = s.role === "admin";
    setSession(s, signedOut);
    document.body.classList.toggle("readonly", !ctx.canWrite);
    shell();
    route();
}

async function boot() {
    $("logout").addEventListener("click", signOut);
    window.addEventListener("hashchange", () => { route(); $("main").focus(); });
    try {
        const s = await api("GET", "/ui/session", undefined, { noSignout: true });
        if (s.role) start(s);
        else signedOut("");
    } catch (e) {
        fill($("main"), errorBox(e));
    }
}

boot();
