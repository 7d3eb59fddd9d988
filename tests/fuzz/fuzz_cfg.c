/* fuzz_cfg: the worker's configuration parser (INI through inih, the key
 * table, the [host.*] and [registry.*] inventory sections, validation).
 *
 * The input is written to a memfd and loaded by path, exactly as
 * `wharf-worker -c FILE` loads a file. Properties beyond "no crash, no
 * leak, no UB": a failure is bad_config with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wh_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if(fd < 0) {
        fd = memfd_create("wharf-fuzz-cfg", 0);
        if(fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if(ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();

    wh_cfg c;
    wh_err err = {0};
    wh_cfg_defaults(&c);
    wh_code rc = wh_cfg_load_file(&c, path, &err);
    if(rc == WH_OK)
        rc = wh_cfg_validate(&c, &err);
    if(rc != WH_OK && (rc != WH_E_BAD_CONFIG || err.msg[0] == '\0'))
        abort();
    wh_cfg_free(&c);
    return 0;
}
