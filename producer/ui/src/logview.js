// A log view that renders only the lines in sight, so 100,000 lines scroll
// as smoothly as 100: a spacer as tall as all lines, and a window of about
// one screen of line elements moved inside it as the view scrolls. Row
// heights are fixed (ROW px, in app.css as well); the sizes are set through
// the CSSOM, which the strict CSP allows.
import { h } from "./dom.js";

const ROW = 18;   // px per line; .log-line in app.css
const EXTRA = 20; // lines rendered above and below the visible ones

export class LogView {
    constructor(label = "Job log") {
        this.lines = [];       // [{s, l}]
        this.follow = true;    // keep the newest line in view
        this.spacer = h("div", { class: "log-spacer" });
        this.win = h("div", { class: "log-window" });
        this.spacer.append(this.win);
        this.el = h("div", { class: "log", id: "log", tabindex: "0", role: "log", "aria-label": label }, this.spacer);
        this.pending = false;
        this.el.addEventListener("scroll", () => {
            this.follow = this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - ROW * 2;
            this.schedule();
        });
    }

    add(line) {
        this.lines.push(line);
        this.schedule();
    }

    // Redraw at most once per frame, however fast lines arrive.
    schedule() {
        if (this.pending) return;
        this.pending = true;
        requestAnimationFrame(() => { this.pending = false; this.draw(); });
    }

    draw() {
        const n = this.lines.length;
        this.spacer.style.height = `${n * ROW}px`;
        if (this.follow) this.el.scrollTop = this.el.scrollHeight;
        const first = Math.max(0, Math.floor(this.el.scrollTop / ROW) - EXTRA);
        const last = Math.min(n, Math.ceil((this.el.scrollTop + this.el.clientHeight) / ROW) + EXTRA);
        this.win.style.transform = `translateY(${first * ROW}px)`;
        const rows = [];
        for (let i = first; i < last; i++) {
            const ln = this.lines[i];
            rows.push(h("div", { class: `log-line${ln.s === "err" ? " log-err" : ""}` },
                h("span", { class: "log-no" }, String(i + 1)), ln.l));
        }
        this.win.replaceChildren(...rows);
    }
}
