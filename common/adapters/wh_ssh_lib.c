/* wh_ssh_lib: libssh, loaded on first use (see wh_ssh_int.h). */
#define WH_SSH_LIB_SELF
#include "wh_ssh_int.h"

#include "wh_dl.h"

#ifndef WH_SSH_SONAME
#error "WH_SSH_SONAME (libssh's SONAME) comes from common/CMakeLists.txt"
#endif

wh_ssh_fns wh_ssh__fns;
const char *wh_ssh_soname = WH_SSH_SONAME;

static const wh_dl_sym syms[] = {
#define WH_SSH_SYM(name) {#name, &wh_ssh__fns.name},
    WH_SSH_FUNCS(WH_SSH_SYM)
#undef WH_SSH_SYM
};

static wh_code lib_init(wh_err *err)
{
    if(wh_ssh__fns.ssh_init() != SSH_OK)
        return wh_err_set(err, WH_E_IO, "library", "%s: libssh init failed", wh_ssh_soname);
    return WH_OK;
}

static wh_dl_lib lib = WH_DL_LIB_INIT(wh_ssh_soname, "needed to reach hosts over SSH", syms, lib_init);

wh_code wh_ssh_load(wh_err *err)
{
    return wh_dl_lib_load(&lib, false, err);
}

wh_code wh_ssh__ready(wh_err *err)
{
    return wh_dl_lib_load(&lib, true, err);
}
