/* wk_families: every family's binding table joined with the catalogue.
 * A new family adds one line here and one families/<name>/handlers.c. */
#include <stdio.h>
#include <string.h>

#include "wk_job.h"

static const wk_family *const families[] = {
    &wk_family_system,
    &wk_family_registry,
    &wk_family_runtime,
    &wk_family_provision,
};

#define NFAM (sizeof(families) / sizeof(families[0]))

const wk_bind *wk_bind_find(const char *type)
{
    for(size_t f = 0; f < NFAM; f++)
        for(int i = 0; i < families[f]->nbinds; i++)
            if(strcmp(families[f]->binds[i].type, type) == 0)
                return &families[f]->binds[i];
    return NULL;
}

/* How many bindings name `type`, in every family. */
static int times_bound(const char *type)
{
    int n = 0;
    for(size_t f = 0; f < NFAM; f++)
        for(int i = 0; i < families[f]->nbinds; i++)
            n += strcmp(families[f]->binds[i].type, type) == 0;
    return n;
}

/* True when the catalogue family named like binding family `w` has `type`. */
static bool in_family(const wk_family *w, const char *type)
{
    for(const wh_job_family *const *f = wh_cat_families; *f; f++)
        for(int i = 0; strcmp((*f)->name, w->name) == 0 && i < (*f)->ntypes; i++)
            if(strcmp((*f)->types[i].name, type) == 0)
                return true;
    return false;
}

wh_code wk_families_check(wh_err *err)
{
    for(const wh_job_family *const *f = wh_cat_families; *f; f++)
        for(int i = 0; i < (*f)->ntypes; i++) {
            int n = times_bound((*f)->types[i].name);
            if(n != 1)
                return wh_err_set(err, WH_E_INTERNAL, "type", "catalogue type %s has %d run functions, not 1",
                                  (*f)->types[i].name, n);
        }
    for(size_t f = 0; f < NFAM; f++)
        for(int i = 0; i < families[f]->nbinds; i++) {
            const wk_bind *b = &families[f]->binds[i];
            if(!in_family(families[f], b->type) || !b->run)
                return wh_err_set(err, WH_E_INTERNAL, "type", "binding %s of family %s: %s", b->type,
                                  families[f]->name, !b->run ? "no run function" : "not a catalogue type of the family");
        }
    return WH_OK;
}

wh_code wk_type_admit(const char *type_name, const wh_mp_obj *args, const wh_job_type **type, wk_run_fn **run,
                      wh_json **prepared, wh_err *err)
{
    const wh_job_type *t = wh_cat_find(type_name);
    const wk_bind *b = t ? wk_bind_find(type_name) : NULL;
    if(!b) /* wk_families_check makes "in the catalogue, not bound" impossible */
        return wh_err_set(err, WH_E_UNKNOWN_TYPE, "type", "type: no handler for \"%s\"", type_name);
    wh_code rc = wh_cat_validate(t, args, b->check, prepared, err);
    if(rc)
        return rc;
    *type = t;
    *run = b->run;
    return WH_OK;
}
