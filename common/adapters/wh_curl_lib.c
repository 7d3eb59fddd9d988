/* wh_curl_lib: libcurl, loaded on first use (see wh_curl_int.h). */
#define WH_CURL_LIB_SELF
#include "wh_curl_int.h"

#include "wh_dl.h"

#ifndef WH_CURL_SONAME
#error "WH_CURL_SONAME (libcurl's SONAME) comes from common/CMakeLists.txt"
#endif

wh_curl_fns wh_curl__fns;
const char *wh_curl_soname = WH_CURL_SONAME;

static const wh_dl_sym syms[] = {
#define WH_CURL_SYM(name) {#name, &wh_curl__fns.name},
    WH_CURL_FUNCS(WH_CURL_SYM)
#undef WH_CURL_SYM
};

static wh_code global_init(wh_err *err)
{
    CURLcode cc = wh_curl__fns.curl_global_init(CURL_GLOBAL_DEFAULT);
    if(cc != CURLE_OK)
        return wh_err_set(err, WH_E_IO, "library", "%s: libcurl init failed: %s", wh_curl_soname,
                          wh_curl__fns.curl_easy_strerror(cc));
    return WH_OK;
}

static wh_dl_lib lib = WH_DL_LIB_INIT(wh_curl_soname, "needed to reach Docker engines and registries", syms,
                                      global_init);

wh_code wh_curl_load(wh_err *err)
{
    return wh_dl_lib_load(&lib, false, err);
}

wh_code wh_curl__ready(wh_err *err)
{
    return wh_dl_lib_load(&lib, true, err);
}
