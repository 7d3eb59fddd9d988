// Polling that never piles up: the next round starts `ms` after the last one
// answered, and a page in a background tab does not poll at all until it is
// visible again. fn returning false ends it, and so does stop() (pages call
// it when they are left).

export function poll(fn, ms) {
    let stopped = false;
    let timer = 0;
    const wake = () => {
        if (!document.hidden && !stopped) {
            document.removeEventListener("visibilitychange", wake);
            run();
        }
    };
    async function run() {
        if (stopped) return;
        if (document.hidden) {
            document.addEventListener("visibilitychange", wake);
            return;
        }
        try {
            if ((await fn()) === false) stopped = true;
        } catch (e) {
            // the page shows its own error; keep polling
        }
        if (!stopped) timer = setTimeout(run, ms);
    }
    run();
    return () => {
        stopped = true;
        clearTimeout(timer);
        document.removeEventListener("visibilitychange", wake);
    };
}
