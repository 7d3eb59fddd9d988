/* wh_dl: load a shared library on demand and resolve a table of its
 * functions (dlopen/dlsym), for adapters whose library only some workers
 * need (wh_curl_lib.c, wh_ssh_lib.c).
 *
 * Why: a worker that never talks to a Docker engine, a registry or an SSH
 * host has no use for libcurl, libssh and the two dozen libraries they pull
 * in (gnutls, krb5, ldap, p11-kit, ...); mapping them at start costs about
 * 4.5 MB of resident memory in every idle worker (docs/performance.md). */
#ifndef WH_DL_H
#define WH_DL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "wh_err.h"

/* One function to resolve: its name in the library and where its address
 * goes (a pointer to a function-pointer variable of the right type). */
typedef struct wh_dl_sym {
    const char *name;
    void *slot;
} wh_dl_sym;

/* Load `soname` (kept loaded for the life of the process) and write the
 * address of every syms[i].name into *syms[i].slot. WH_OK when all were
 * found. Otherwise WH_E_IO with field "library" and a message naming the
 * library, the missing function if one was missing, and the loader's
 * reason, e.g. "libcurl.so.4 cannot be loaded (needed to reach Docker
 * engines and registries): libcurl.so.4: cannot open shared object file";
 * `why` is the parenthesized part. The slots are untouched on failure. */
wh_code wh_dl_load(const char *soname, const char *why, const wh_dl_sym *syms, size_t n, wh_err *err);

/* A library an adapter loads once per process: what wh_dl_load takes,
 * then the library's own global init. Define one static per library with
 * WH_DL_LIB_INIT and load it with wh_dl_lib_load. */
typedef struct wh_dl_lib {
    const char *const *soname;      /* where the SONAME is (a variable tests may replace) */
    const char *why;
    const wh_dl_sym *syms;
    size_t nsyms;
    wh_code (*init)(wh_err *err);   /* the library's global init; NULL: none */
    pthread_mutex_t mu;
    bool loaded;                    /* under mu: the table is filled */
    bool ready;                     /* under mu: and init succeeded */
} wh_dl_lib;

#define WH_DL_LIB_INIT(soname_var, why, syms, init) \
    {&(soname_var), (why), (syms), sizeof(syms) / sizeof((syms)[0]), (init), PTHREAD_MUTEX_INITIALIZER, false, false}

/* Load `lib` unless it already is, and with `init` also run its init once.
 * Thread-safe; a failure is not remembered, the next call tries again.
 * WH_OK when the table is filled (and with `init`, the init succeeded);
 * else wh_dl_load's error or the init's.
 *
 * Why two steps: a worker loads at start the libraries it will need, to
 * refuse to start without them, but a library's global init can cost more
 * memory than mapping it (curl_global_init initialises OpenSSL: 1.6 MB of
 * libcrypto touched), so that waits for the first real use. */
wh_code wh_dl_lib_load(wh_dl_lib *lib, bool init, wh_err *err);

#endif
