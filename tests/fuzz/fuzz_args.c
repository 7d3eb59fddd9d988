/* fuzz_args: every job type's args validation (the catalogue's table in
 * wh_args plus the type's own check), as the worker runs it before a job
 * starts.
 *
 * Input: a type name, a NUL byte, then the args as msgpack. A name that is
 * not a registered type is folded onto one that is, so every input reaches
 * a validator. Properties beyond "no crash, no leak, no UB": a rejection is
 * bad_args (or the msgpack parse error) with a field and a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wh_json.h"
#include "wh_mp.h"
#include "wk_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const wh_job_type *type_for(const char *name, size_t n)
{
    const wh_job_family *const *families = wh_cat_families;
    int total = 0;
    for(size_t f = 0; families[f]; f++) {
        for(int i = 0; i < families[f]->ntypes; i++)
            if(strlen(families[f]->types[i].name) == n && memcmp(families[f]->types[i].name, name, n) == 0)
                return &families[f]->types[i];
        total += families[f]->ntypes;
    }
    uint32_t h = 2166136261u; /* FNV-1a of the unknown name picks a type */
    for(size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    int pick = (int)(h % (uint32_t)total);
    for(size_t f = 0;; f++) {
        if(pick < families[f]->ntypes)
            return &families[f]->types[pick];
        pick -= families[f]->ntypes;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    if(!nul)
        return 0;
    size_t nlen = (size_t)(nul - data);
    const wh_job_type *t = type_for((const char *)data, nlen);
    const uint8_t *mp = nul + 1;
    size_t mplen = size - nlen - 1;

    wh_err err = {0};
    wh_mp_doc *doc = wh_mp_parse(mp, mplen, WH_MP_MAX_DEPTH, &err);
    if(!doc) {
        if(err.code == WH_OK || err.msg[0] == '\0')
            abort();
        return 0;
    }
    const wh_job_type *got = NULL;
    wk_run_fn *run = NULL;
    wh_json *prepared = NULL;
    wh_code rc = wk_type_admit(t->name, wh_mp_root(doc), &got, &run, &prepared, &err);
    if(rc == WH_OK) {
        if(got != t || !run)
            abort();
    } else if(rc != WH_E_BAD_ARGS || err.field[0] == '\0' || err.msg[0] == '\0') {
        abort();
    }
    wh_json_free(prepared);
    wh_mp_doc_free(doc);
    return 0;
}
