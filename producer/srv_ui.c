/* srv_ui: the dashboard's assets, served from the binary.
 *
 * GET / answers the one HTML page and GET /ui/NAME its script, style sheet
 * and icon (srv_assets[], generated from producer/ui/ at build time). They
 * are open, like /healthz: they hold no data; the page signs in through
 * srv_session.c and then reads the API with its cookie. Each answer carries
 * an ETag (a hash of the bytes) and Cache-Control: no-cache, so a browser
 * revalidates with If-None-Match and gets 304 until the binary changes.
 *
 * Every dashboard answer carries a strict Content-Security-Policy: scripts,
 * styles, images and connections from this origin only, no inline script or
 * style, no framing, no plugins, forms post only here. */
#include <string.h>

#include "srv.h"

static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

int srv_ui_reply(srv_call *c, unsigned status, const char *type, const char *body, size_t len,
                 const wh_mhd_hdr *hdrs, size_t n)
{
    wh_mhd_hdr h[8] = {
        {"Content-Security-Policy", csp},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"Cross-Origin-Opener-Policy", "same-origin"},
    };
    size_t k = 5;
    for(size_t i = 0; i < n && k < sizeof(h) / sizeof(h[0]); i++)
        h[k++] = hdrs[i];
    return wh_mhd_reply(c->req, status, type, body, len, h, k);
}

/* The asset at `path`, NULL when none. */
static const srv_asset *find(const char *path)
{
    for(size_t i = 0; i < srv_nassets; i++)
        if(strcmp(srv_assets[i].path, path) == 0)
            return &srv_assets[i];
    return NULL;
}

void srv_ui_asset(srv_call *c)
{
    const srv_asset *a = find(wh_mhd_path(c->req));
    if(!a) {
        static const char nf[] = "not found\n";
        srv_ui_reply(c, 404, "text/plain; charset=utf-8", nf, sizeof(nf) - 1, NULL, 0);
        return;
    }
    wh_mhd_hdr h[] = {{"ETag", a->etag}, {"Cache-Control", "no-cache"}};
    const char *inm = wh_mhd_header(c->req, "If-None-Match");
    if(inm && strstr(inm, a->etag)) {
        srv_ui_reply(c, 304, a->type, "", 0, h, 2);
        return;
    }
    srv_ui_reply(c, 200, a->type, (const char *)a->data, a->len, h, 2);
}
