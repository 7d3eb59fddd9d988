/* catalog: the family list, lookup and admission. See catalog.h.
 * A new family adds one line to the list and one <family>.c table. */
#include "catalog.h"

#include <stdio.h>
#include <string.h>

#include "wh_conv.h"

const wh_job_family *const wh_cat_families[] = {
    &wh_cat_system,
    &wh_cat_registry,
    &wh_cat_runtime,
    &wh_cat_provision,
    NULL,
};

const wh_job_type *wh_cat_find(const char *type)
{
    for(const wh_job_family *const *f = wh_cat_families; *f; f++)
        for(int i = 0; i < (*f)->ntypes; i++)
            if(strcmp((*f)->types[i].name, type) == 0)
                return &(*f)->types[i];
    return NULL;
}

int wh_cat_max_attempts(const char *type)
{
    const wh_job_type *t = type ? wh_cat_find(type) : NULL;
    return t ? t->max_attempts : 0;
}

wh_code wh_cat_validate(const wh_job_type *t, const wh_mp_obj *args, wh_job_check *check, wh_json **prepared,
                        wh_err *err)
{
    wh_json *result = NULL;
    if(!check)
        check = t->check;
    /* A row with all_problems reports the table's problems next to its
     * check's, so stopping at the table's first would hide the others. */
    wh_code rc = t->all_problems ? WH_OK : wh_args_validate(args, t->args, t->nargs, t->open_args, err);
    if(!rc && check)
        rc = check(args, &result, err);
    if(rc) {
        wh_json_free(result);
        return rc;
    }
    if(prepared)
        *prepared = result;
    else
        wh_json_free(result);
    return WH_OK;
}

wh_code wh_cat_admit(const char *type, const wh_mp_obj *args, const wh_job_type **row, wh_json **prepared,
                     wh_err *err)
{
    const wh_job_type *t = wh_cat_find(type);
    if(!t)
        return wh_err_set(err, WH_E_UNKNOWN_TYPE, "type", "type: no handler for \"%s\"", type);
    wh_code rc = wh_cat_validate(t, args, NULL, prepared, err);
    if(!rc)
        *row = t;
    return rc;
}

/* JSON text -> msgpack -> parsed document, as wharf_submit will publish the
 * args. On WH_OK free *doc, then *pack (which holds its bytes). */
static wh_code to_doc(const char *json, wh_mp_pack **pack, wh_mp_doc **doc, wh_err *err)
{
    wh_json *j = wh_json_parse(json, strlen(json), err);
    if(!j)
        return err ? err->code : WH_E_BAD_ARGS;
    *pack = wh_mp_pack_new(WH_CAT_JSON_MAX);
    wh_code rc = *pack ? wh_conv_to_mp(j, *pack, err) : wh_err_set(err, WH_E_NOMEM, "", "out of memory");
    wh_json_free(j);
    size_t len = 0;
    const char *mp = rc ? NULL : wh_mp_pack_data(*pack, &len);
    if(!rc && !(*doc = wh_mp_parse(mp, len, WH_MP_MAX_DEPTH, err)))
        rc = err ? err->code : WH_E_BAD_ARGS;
    return rc;
}

wh_code wh_cat_admit_json(const char *type, const char *args_json, wh_err *err)
{
    if(!wh_cat_find(type))
        return wh_err_set(err, WH_E_UNKNOWN_TYPE, "type", "type: no handler for \"%s\"", type);
    wh_mp_pack *pack = NULL;
    wh_mp_doc *doc = NULL;
    const wh_job_type *t;
    wh_code rc = to_doc(args_json, &pack, &doc, err);
    if(!rc)
        rc = wh_cat_admit(type, wh_mp_root(doc), &t, NULL, err);
    /* An HTTP error names the field it concerns; a check may name none. */
    if(rc == WH_E_BAD_ARGS && err && !err->field[0])
        snprintf(err->field, sizeof(err->field), "args");
    wh_mp_doc_free(doc);
    wh_mp_pack_free(pack);
    return rc;
}
