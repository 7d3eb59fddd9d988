/* wk_families: every family's handler table, and type lookup.
 * A new family adds one line here and one fam_<name>.c table. */
#include <stdio.h>
#include <string.h>

#include "wk_job.h"

static const wk_family *const families[] = {
    &wk_family_system,
    &wk_family_registry,
    &wk_family_runtime,
    &wk_family_provision,
};

const wk_type *wk_type_find(const char *type)
{
    for(size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
        for(int i = 0; i < families[f]->ntypes; i++)
            if(strcmp(families[f]->types[i].name, type) == 0)
                return &families[f]->types[i];
    return NULL;
}

wh_code wk_type_admit(const char *type_name, const wh_mp_obj *args, const wk_type **type, wh_json **prepared,
                      wh_err *err)
{
    wh_json *result = NULL;
    const wk_type *t = wk_type_find(type_name);
    if(!t)
        return wh_err_set(err, WH_E_UNKNOWN_TYPE, "type", "type: no handler for \"%s\"", type_name);
    wh_code rc = wh_args_validate(args, t->args, t->nargs, t->open_args, err);
    if(!rc && t->check)
        rc = t->check(args, &result, err);
    if(rc) {
        wh_json_free(result);
        return rc;
    }
    *type = t;
    if(prepared)
        *prepared = result;
    else
        wh_json_free(result);
    return WH_OK;
}
