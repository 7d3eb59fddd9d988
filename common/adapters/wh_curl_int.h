/* wh_curl_int: what the files of the libcurl adapter share (wh_curl.c:
 * requests; wh_curl_tls.c: which failures are TLS failures; wh_curl_lib.c:
 * loading libcurl). Only these files include it, and with it libcurl's
 * header. Not a public API.
 *
 * libcurl is not linked: it is loaded with dlopen the first time a client
 * is made (wh_curl_load), so a worker that never makes an HTTP request
 * never maps it nor what it depends on. The adapter still calls libcurl's
 * functions by their documented names: below, each name is defined to the
 * slot of the loaded table that holds it, typed from libcurl's own
 * prototype. A name used here must be listed in WH_CURL_FUNCS (the build
 * fails otherwise, since nothing links libcurl). */
#ifndef WH_CURL_INT_H
#define WH_CURL_INT_H

/* typecheck-gcc.h wraps curl_easy_setopt and curl_easy_getinfo in macros
 * that call the function by name, which would bypass the slots below. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "wh_curl.h"

/* Every libcurl function the adapter calls. */
#define WH_CURL_FUNCS(X)                                                                      \
    X(curl_global_init) X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_reset)            \
    X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_strerror) X(curl_slist_append)      \
    X(curl_slist_free_all) X(curl_multi_init) X(curl_multi_cleanup) X(curl_multi_add_handle) \
    X(curl_multi_remove_handle) X(curl_multi_perform) X(curl_multi_poll) X(curl_multi_info_read)

/* The loaded functions: written once by wh_curl_load, before any client
 * exists, and only read after. */
typedef struct wh_curl_fns {
#define WH_CURL_SLOT(name) __typeof__(name) *name;
    WH_CURL_FUNCS(WH_CURL_SLOT)
#undef WH_CURL_SLOT
} wh_curl_fns;
extern wh_curl_fns wh_curl__fns;

/* wh_curl_lib.c fills the table by name; every other file calls through it. */
#ifndef WH_CURL_LIB_SELF
/* curl.h still defines these two as same-name argument-count checks. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init (wh_curl__fns.curl_global_init)
#define curl_easy_init (wh_curl__fns.curl_easy_init)
#define curl_easy_cleanup (wh_curl__fns.curl_easy_cleanup)
#define curl_easy_reset (wh_curl__fns.curl_easy_reset)
#define curl_easy_setopt (wh_curl__fns.curl_easy_setopt)
#define curl_easy_getinfo (wh_curl__fns.curl_easy_getinfo)
#define curl_easy_strerror (wh_curl__fns.curl_easy_strerror)
#define curl_slist_append (wh_curl__fns.curl_slist_append)
#define curl_slist_free_all (wh_curl__fns.curl_slist_free_all)
#define curl_multi_init (wh_curl__fns.curl_multi_init)
#define curl_multi_cleanup (wh_curl__fns.curl_multi_cleanup)
#define curl_multi_add_handle (wh_curl__fns.curl_multi_add_handle)
#define curl_multi_remove_handle (wh_curl__fns.curl_multi_remove_handle)
#define curl_multi_perform (wh_curl__fns.curl_multi_perform)
#define curl_multi_poll (wh_curl__fns.curl_multi_poll)
#define curl_multi_info_read (wh_curl__fns.curl_multi_info_read)
#endif

/* wh_curl_load, then curl_global_init once: what a client needs. */
wh_code wh_curl__ready(wh_err *err);

/* After a transfer on easy handle `e` ended with `cc` (curl's error
 * buffer `errbuf`): WH_E_TLS with err set when it was a TLS failure (see
 * wh_curl_tls.c for how one is told), else WH_OK with err untouched. */
wh_code wh_curl__tls(CURL *e, CURLcode cc, const char *errbuf, const wh_curl_req *req, wh_err *err);

#endif
