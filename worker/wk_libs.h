/* wk_libs: which on-demand libraries (libcurl, libssh: see wh_dl.h) the
 * consumed families will need with this inventory, loaded once at worker
 * start so that a worker that cannot load one refuses to start instead of
 * failing its first job. A worker whose families talk to no configured
 * host or registry loads neither; a job that needs one anyway (a registry
 * check of a public image) loads it on first use. */
#ifndef WK_LIBS_H
#define WK_LIBS_H

#include <stdbool.h>

#include "wh_cfg.h"
#include "wh_err.h"

/* What `cfg` needs at start: libcurl when a consumed family reaches a
 * configured Docker engine (runtime, provision's docker steps, registry's
 * container updates) or registry entry; libssh when provision reaches a
 * host over SSH or any consumed family reaches an engine over ssh://. */
void wk_libs_needed(const wh_cfg *cfg, bool *curl, bool *ssh);

/* Load what wk_libs_needed says. WH_OK, or the first failure as
 * wh_curl_load / wh_ssh_load report it (WH_E_IO, field "library", the
 * message naming the library). */
wh_code wk_libs_load(const wh_cfg *cfg, wh_err *err);

#endif
