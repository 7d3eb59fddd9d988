// Drives Debian's chromium (headless, through puppeteer-core) against the
// dashboard of real `wharf serve` processes that
// tests/integration/test_dashboard.py started, with data it created.
//
//   node dashboard.js CONFIG.json RESULTS.json
//
// Each check runs in its own browser context (its own cookies) and records
// {name, ok, detail} in RESULTS.json; the Python test asserts every one.
// Every page visit also collects console errors, runs axe-core and saves a
// screenshot in light and dark to config.shots.
"use strict";
const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const results = [];
let browser;

function assert(cond, msg) {
    if (!cond) throw new Error(msg);
}

async function api(method, p, body, token = cfg.token, base = cfg.url) {
    const r = await fetch(base + p, { method, headers: { Authorization: `Bearer ${token}`,
        ...(body ? { "Content-Type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    return { status: r.status, body: text && r.headers.get("content-type").startsWith("application/json") ? JSON.parse(text) : text };
}

async function until(what, fn, ms = 20000) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

async function check(name, fn) {
    const ctx = await browser.createBrowserContext();
    try {
        await fn(ctx);
        results.push({ name, ok: true });
        console.log(`ok   ${name}`);
    } catch (e) {
        results.push({ name, ok: false, detail: String(e && e.stack ? e.stack : e) });
        console.log(`FAIL ${name}: ${e && e.message}`);
    } finally {
        await ctx.close();
    }
}

// A page that records its console errors and uncaught exceptions.
async function newPage(ctx, width = 1280, height = 900) {
    const page = await ctx.newPage();
    await page.setViewport({ width, height });
    page.errors = [];
    page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
    page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
    return page;
}

async function signIn(page, token, base = cfg.url) {
    await page.goto(base + "/", { waitUntil: "load" });
    await page.waitForSelector("#token");
    await page.type("#token", token);
    await page.click("#signin button[type=submit]");
}

async function signedIn(page, token, base) {
    await signIn(page, token, base);
    await page.waitForSelector("#nav a", { visible: true });
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent).catch(() => "");

async function waitText(page, sel, want, ms = 20000) {
    await page.waitForFunction((s, w) => {
        const e = document.querySelector(s);
        return e && e.textContent.includes(w);
    }, { timeout: ms }, sel, want).catch(async () => {
        throw new Error(`${sel} never showed "${want}"; it shows: ${(await text(page, sel)).slice(0, 300)}`);
    });
}

// axe-core on the page; serious or critical violations fail. evaluate() is
// not subject to the page's CSP, so the page's own policy stays as served.
async function axe(page, name) {
    await page.evaluate(AXE);
    const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert(!bad.length, `${name}: axe found ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} node(s) ` +
        v.nodes.slice(0, 2).map((n) => n.target.join(" ")).join(", ")).join("; ")}`);
}

async function shoot(page, name) {
    for (const scheme of ["light", "dark"]) {
        await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
        await new Promise((r) => setTimeout(r, 100));
        if (scheme === "dark") await axe(page, `${name} (dark)`);
        await page.screenshot({ path: path.join(cfg.shots, `${name}-${scheme}.png`), fullPage: true });
    }
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
}

// Visit a page, wait for its data, then axe, screenshots, console errors.
async function visit(page, name, hash, ready, allowed = []) {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await ready();
    await axe(page, name);
    await shoot(page, name);
    const errs = page.errors.filter((e) => !allowed.some((a) => e.includes(a)));
    assert(!errs.length, `${name}: console errors: ${errs.join(" | ")}`);
    page.errors.length = 0;
}

async function main() {
    fs.mkdirSync(cfg.shots, { recursive: true });
    browser = await puppeteer.launch({ executablePath: cfg.chromium, headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"] });
    try {
        for (const [name, fn] of Object.entries(require("./checks.js")))
            await check(name, (ctx) => fn({ ctx, cfg, api, until, newPage, signIn, signedIn, text, waitText, visit, shoot, axe, assert }));
    } finally {
        await browser.close();
    }
    fs.writeFileSync(process.argv[3], JSON.stringify(results, null, 1));
    console.log(`screenshots: ${cfg.shots}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
