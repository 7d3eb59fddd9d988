/* srv_session: browser sign-in for the dashboard.
 *
 * POST /ui/login takes {"token": T}; when T is a bearer token (or a read
 * token) it creates a session and answers with a cookie holding the
 * session's random id (256 bits from the kernel CSPRNG): HttpOnly, so page
 * scripts never see it; SameSite=Strict, so other sites' requests do not
 * carry it; Secure when the request came through TLS (a proxy saying
 * X-Forwarded-Proto: https, since serve itself speaks plain HTTP); and
 * Max-Age = serve.session_ttl_s. The token itself is never stored.
 *
 * Every state-changing request made with a session must also pass the CSRF
 * checks: the browser's Sec-Fetch-Site must be same-origin (or absent), its
 * Origin (or, without one, Sec-Fetch-Site) must show the same site, and the
 * X-CSRF-Token header must equal the session's CSRF token, which only a page
 * of this origin can read (GET /ui/session; no CORS headers are ever sent).
 *
 * Sessions live in a fixed table in memory (SRV_SESSIONS); when it is full
 * the session closest to expiry is dropped. A restart signs everyone out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "srv.h"
#include "wh_id.h"
#include "wh_time.h"

#define SID_HEX 64                 /* session id and CSRF token, hex digits */
#define COOKIE "wharf_session"

typedef struct sess {
    char id[SID_HEX + 1];   /* "" when the slot is free */
    char csrf[SID_HEX + 1];
    int64_t expires_ms;     /* unix ms */
    srv_role role;
} sess;

struct srv_sessions {
    pthread_mutex_t mu;     /* guards e[] */
    int ttl_s;              /* a session's life, s */
    sess e[SRV_SESSIONS];
};

srv_sessions *srv_sessions_new(int ttl_s)
{
    srv_sessions *ss = calloc(1, sizeof(*ss));
    if(!ss)
        return NULL;
    pthread_mutex_init(&ss->mu, NULL);
    ss->ttl_s = ttl_s;
    return ss;
}

void srv_sessions_free(srv_sessions *ss)
{
    if(!ss)
        return;
    pthread_mutex_destroy(&ss->mu);
    free(ss);
}

static void random_hex(char out[SID_HEX + 1])
{
    for(int i = 0; i < SID_HEX / 16; i++)
        snprintf(out + i * 16, 17, "%016llx", (unsigned long long)wh_random_u64());
}

/* Constant-time equality of two strings of SID_HEX characters. */
static bool hex_eq(const char *a, const char *b)
{
    unsigned d = 0;
    for(int i = 0; i < SID_HEX; i++)
        d |= (unsigned)(unsigned char)a[i] ^ (unsigned)(unsigned char)b[i];
    return d == 0;
}

/* The session id from the Cookie header into out; false when absent or not
 * SID_HEX hex digits. */
static bool cookie_sid(const srv_call *c, char out[SID_HEX + 1])
{
    const char *h = wh_mhd_header(c->req, "Cookie");
    size_t klen = strlen(COOKIE);
    while(h && *h) {
        h += strspn(h, " \t;");
        if(strncmp(h, COOKIE, klen) == 0 && h[klen] == '=') {
            const char *v = h + klen + 1;
            size_t n = strcspn(v, "; \t");
            if(n != SID_HEX || strspn(v, "0123456789abcdef") < SID_HEX)
                return false;
            memcpy(out, v, SID_HEX);
            out[SID_HEX] = '\0';
            return true;
        }
        h = strchr(h, ';');
    }
    return false;
}

/* Copy the live session with id `sid` into *out; false when none. */
static bool lookup(srv_sessions *ss, const char *sid, sess *out)
{
    int64_t now = wh_now_ms();
    bool found = false;
    pthread_mutex_lock(&ss->mu);
    for(int i = 0; i < SRV_SESSIONS && !found; i++) {
        sess *e = &ss->e[i];
        if(e->id[0] && e->expires_ms > now && hex_eq(e->id, sid)) {
            *out = *e;
            found = true;
        }
    }
    pthread_mutex_unlock(&ss->mu);
    return found;
}

/* Store a new session for `role` into *out: a free or expired slot, else
 * the one closest to expiry. */
static void create(srv_sessions *ss, srv_role role, sess *out)
{
    int64_t now = wh_now_ms();
    random_hex(out->id);
    random_hex(out->csrf);
    out->role = role;
    out->expires_ms = now + (int64_t)ss->ttl_s * 1000;
    pthread_mutex_lock(&ss->mu);
    int pick = 0;
    for(int i = 0; i < SRV_SESSIONS; i++) {
        if(!ss->e[i].id[0] || ss->e[i].expires_ms <= now) {
            pick = i;
            break;
        }
        if(ss->e[i].expires_ms < ss->e[pick].expires_ms)
            pick = i;
    }
    ss->e[pick] = *out;
    pthread_mutex_unlock(&ss->mu);
}

static void drop(srv_sessions *ss, const char *sid)
{
    pthread_mutex_lock(&ss->mu);
    for(int i = 0; i < SRV_SESSIONS; i++)
        if(ss->e[i].id[0] && hex_eq(ss->e[i].id, sid))
            memset(&ss->e[i], 0, sizeof(ss->e[i]));
    pthread_mutex_unlock(&ss->mu);
}

bool srv_method_writes(const srv_call *c)
{
    const char *m = wh_mhd_method(c->req);
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
}

/* True when the Origin header names the Host header's authority. */
static bool origin_is_host(const char *origin, const char *host)
{
    const char *p = strstr(origin, "://");
    if(!host || !p || (strncmp(origin, "http://", 7) != 0 && strncmp(origin, "https://", 8) != 0))
        return false;
    return strcasecmp(p + 3, host) == 0;
}

bool srv_same_origin(srv_call *c, bool answer)
{
    const char *site = wh_mhd_header(c->req, "Sec-Fetch-Site");
    const char *origin = wh_mhd_header(c->req, "Origin");
    bool ok = true;
    if(site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        ok = false;
    if(origin && !origin_is_host(origin, wh_mhd_header(c->req, "Host")))
        ok = false;
    if(!ok && answer)
        srv_error(c, 403, "unauthorized", origin ? "Origin" : "Sec-Fetch-Site",
                  "cross-site request refused");
    return ok;
}

srv_role srv_session_role(srv_call *c, bool *answered)
{
    char sid[SID_HEX + 1];
    sess s;
    *answered = false;
    if(!cookie_sid(c, sid) || !lookup(c->s->sessions, sid, &s))
        return SRV_ROLE_NONE;
    if(!srv_method_writes(c))
        return s.role;
    /* A browser always sends Origin or Sec-Fetch-Site with a write; a
     * request with neither did not come from this dashboard's pages. */
    const char *tok = wh_mhd_header(c->req, "X-CSRF-Token");
    bool marked = wh_mhd_header(c->req, "Origin") || wh_mhd_header(c->req, "Sec-Fetch-Site");
    if(!srv_same_origin(c, true)) {
        *answered = true;
        return SRV_ROLE_NONE;
    }
    if(!marked || !tok || strlen(tok) != SID_HEX || !hex_eq(tok, s.csrf)) {
        srv_error(c, 403, "unauthorized", "X-CSRF-Token", "missing or wrong CSRF token");
        *answered = true;
        return SRV_ROLE_NONE;
    }
    return s.role;
}

static const char *role_name(srv_role r)
{
    return r == SRV_ROLE_ADMIN ? "admin" : r == SRV_ROLE_READ ? "read" : NULL;
}

/* {"role","csrf","expires_ms"} of a session (role null: signed out). */
static wh_json *session_json(const sess *s, bool no_auth)
{
    wh_json *o = wh_json_object();
    const char *role = no_auth ? "admin" : s ? role_name(s->role) : NULL;
    wh_json_setc(o, "role", role ? wh_json_str(role) : wh_json_null());
    wh_json_setc(o, "csrf", wh_json_str(s ? s->csrf : ""));
    wh_json_setc(o, "expires_ms", wh_json_int(s ? s->expires_ms : 0));
    wh_json_setc(o, "no_auth", wh_json_bool(no_auth));
    return o;
}

/* Answer JSON with Cache-Control: no-store and the Set-Cookie `cookie`
 * (NULL: none). */
static void reply_session(srv_call *c, unsigned status, wh_json *j, const char *cookie)
{
    char *text = j ? wh_json_dump(j) : NULL;
    wh_json_free(j);
    wh_mhd_hdr h[] = {{"Cache-Control", "no-store"}, {"Set-Cookie", cookie}};
    if(!text) {
        srv_error(c, 500, "nomem", "", "cannot build the reply");
        return;
    }
    srv_ui_reply(c, status, "application/json", text, strlen(text), h, cookie ? 2 : 1);
    free(text);
}

/* The Set-Cookie value for `sid` living ttl_s seconds (0 clears it). */
static void cookie_value(const srv_call *c, const char *sid, int ttl_s, char *out, size_t cap)
{
    const char *proto = wh_mhd_header(c->req, "X-Forwarded-Proto");
    bool tls = proto && strcasecmp(proto, "https") == 0;
    snprintf(out, cap, "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", COOKIE, sid, ttl_s,
             tls ? "; Secure" : "");
}

void srv_ui_session(srv_call *c)
{
    char sid[SID_HEX + 1];
    sess s;
    bool live = !c->s->no_auth && cookie_sid(c, sid) && lookup(c->s->sessions, sid, &s);
    /* 200 even when signed out: the page asks before it knows, and a 401
     * would be reported as a failed load in the browser's console. */
    reply_session(c, 200, session_json(live ? &s : NULL, c->s->no_auth), NULL);
}

void srv_ui_login(srv_call *c)
{
    if(!srv_same_origin(c, true))
        return;
    wh_json *body = srv_body_object(c);
    if(!body)
        return;
    const char *tok = wh_json_strv(wh_json_get(body, "token"), NULL);
    srv_role role = tok && strlen(tok) <= SRV_TOKEN_MAX ? srv_token_role(c->s, tok) : SRV_ROLE_NONE;
    wh_json_free(body);
    if(role == SRV_ROLE_NONE) {
        srv_error(c, 401, "unauthorized", "token", "this token is not accepted");
        return;
    }
    sess s;
    char cookie[256];
    create(c->s->sessions, role, &s);
    cookie_value(c, s.id, c->s->sessions->ttl_s, cookie, sizeof(cookie));
    reply_session(c, 200, session_json(&s, false), cookie);
}

void srv_ui_logout(srv_call *c)
{
    char sid[SID_HEX + 1], cookie[256];
    bool answered = false;
    /* Another site must not sign the browser out either. */
    if(!srv_same_origin(c, true) || (srv_session_role(c, &answered) == SRV_ROLE_NONE && answered))
        return;
    if(cookie_sid(c, sid))
        drop(c->s->sessions, sid);
    cookie_value(c, "", 0, cookie, sizeof(cookie));
    reply_session(c, 200, session_json(NULL, false), cookie);
}

/* Constant-time equality of a presented token with each configured one:
 * the time depends only on the configured tokens' count and lengths.
 * Returns 1 for a read-write token, 2 for a read-only one, 0 for none. */
static int token_ok(const srv *s, const char *got)
{
    size_t gn = strlen(got);
    unsigned ok = 0, ro = 0;
    for(int i = 0; i < s->ntokens; i++) {
        const char *want = s->tokens[i];
        size_t wn = strlen(want);
        unsigned diff = (unsigned)(gn ^ wn);
        for(size_t k = 0; k < wn; k++)
            diff |= (unsigned)(unsigned char)want[k] ^ (unsigned)(unsigned char)(k < gn ? got[k] : 0);
        unsigned hit = diff == 0 ? 1u : 0u;
        if(s->read_only[i])
            ro |= hit;
        else
            ok |= hit;
    }
    return ok ? 1 : ro ? 2 : 0;
}

srv_role srv_token_role(const srv *s, const char *got)
{
    static const srv_role role[] = {SRV_ROLE_NONE, SRV_ROLE_ADMIN, SRV_ROLE_READ};
    return role[token_ok(s, got)];
}
