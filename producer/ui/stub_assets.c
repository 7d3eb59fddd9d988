/* The dashboard's assets in a build configured with -DWHARF_UI=OFF (no node
 * at build time): one page that says so. The API is unchanged. */
#include "srv.h"

static const char page[] =
    "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>wharf</title>"
    "<p>This wharf was built without its dashboard (-DWHARF_UI=OFF). The HTTP API under /v1/ works as "
    "usual; rebuild with node and npm installed for the dashboard.</p></html>\n";

const srv_asset srv_assets[] = {
    {"/", "text/html; charset=utf-8", "\"stub\"", (const unsigned char *)page, sizeof(page) - 1},
};
const size_t srv_nassets = sizeof(srv_assets) / sizeof(srv_assets[0]);
