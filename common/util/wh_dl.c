/* wh_dl: on-demand libraries (see wh_dl.h). */
#include "wh_dl.h"

#include <dlfcn.h>
#include <string.h>

#define WH_DL_SYMS_MAX 128 /* functions one table may resolve */

wh_code wh_dl_load(const char *soname, const char *why, const wh_dl_sym *syms, size_t n, wh_err *err)
{
    if(n > WH_DL_SYMS_MAX)
        return wh_err_set(err, WH_E_INTERNAL, "library", "%s: %zu functions to resolve, more than %d", soname, n,
                          WH_DL_SYMS_MAX);
    /* RTLD_LOCAL: the library's symbols serve only our table, never the
     * resolution of another library loaded later. */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if(!h) {
        const char *e = dlerror();
        return wh_err_set(err, WH_E_IO, "library", "%s cannot be loaded (%s): %s", soname, why,
                          e ? e : "unknown reason");
    }
    /* Resolve everything before writing anything, so a library missing
     * one function leaves the table as it was. */
    void *addr[WH_DL_SYMS_MAX];
    for(size_t i = 0; i < n; i++) {
        dlerror();
        addr[i] = dlsym(h, syms[i].name);
        if(!addr[i]) {
            const char *e = dlerror();
            wh_err_set(err, WH_E_IO, "library", "%s cannot be used (%s): no function %s: %s", soname, why,
                       syms[i].name, e ? e : "null address");
            dlclose(h);
            return WH_E_IO;
        }
    }
    /* POSIX guarantees a function pointer and void * share a
     * representation; memcpy says so without a cast ISO C forbids. */
    for(size_t i = 0; i < n; i++)
        memcpy(syms[i].slot, &addr[i], sizeof(addr[i]));
    return WH_OK;
}

wh_code wh_dl_lib_load(wh_dl_lib *lib, bool init, wh_err *err)
{
    pthread_mutex_lock(&lib->mu);
    wh_code rc = lib->loaded ? WH_OK : wh_dl_load(*lib->soname, lib->why, lib->syms, lib->nsyms, err);
    lib->loaded = rc == WH_OK;
    if(!rc && init && !lib->ready) {
        rc = lib->init ? lib->init(err) : WH_OK;
        lib->ready = rc == WH_OK;
    }
    pthread_mutex_unlock(&lib->mu);
    return rc;
}
