/* wk_libs: the on-demand libraries a worker loads at start (see wk_libs.h). */
#include "wk_libs.h"

#include "wh_curl.h"
#include "wh_ssh.h"

void wk_libs_needed(const wh_cfg *cfg, bool *curl, bool *ssh)
{
    const bool *on = cfg->family_on;
    bool remote = on[WH_FAM_RUNTIME] || on[WH_FAM_REGISTRY] || on[WH_FAM_PROVISION];
    const wh_inv *inv = cfg->inv;
    *curl = remote && on[WH_FAM_REGISTRY] && inv && inv->nregistries > 0;
    *ssh = false;
    for(int i = 0; remote && inv && i < inv->nhosts; i++) {
        const wh_inv_host *h = &inv->hosts[i];
        *curl = *curl || h->docker_kind != WH_DOCKER_NONE;
        *ssh = *ssh || h->docker_kind == WH_DOCKER_SSH || (on[WH_FAM_PROVISION] && h->address[0]);
    }
}

wh_code wk_libs_load(const wh_cfg *cfg, wh_err *err)
{
    bool curl, ssh;
    wk_libs_needed(cfg, &curl, &ssh);
    wh_code rc = curl ? wh_curl_load(err) : WH_OK;
    if(!rc && ssh)
        rc = wh_ssh_load(err);
    return rc;
}
