/* runtime_stack: the args of stack.deploy and stack.remove, and the checks
 * of a stack (run in worker/families/runtime/stack.c):
 *   networks and volumes are lists of {name, ...}; containers a list of
 *   container.run args (each checked as that type is) with depends_on:
 *   [names of this stack's containers], which must not form a cycle. */
#include <stdio.h>
#include <string.h>

#include "runtime_args.h"

const wh_arg_spec rt_stack_args[RT_STACK_NARGS] = {
    {"name", WH_ARG_STR, true, 1, 64, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}"},
    {"networks", WH_ARG_ARRAY, false, 0, RT_STACK_MAX, NULL, NULL},
    {"volumes", WH_ARG_ARRAY, false, 0, RT_STACK_MAX, NULL, NULL},
    {"containers", WH_ARG_ARRAY, false, 0, RT_STACK_MAX, NULL, NULL},
};

const wh_arg_spec rt_unstack_args[RT_UNSTACK_NARGS] = {
    {"name", WH_ARG_STR, true, 1, 64, rt_name_ok, "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}"},
    {"volumes", WH_ARG_BOOL, false, 0, 0, NULL, NULL},
};

/* Name of element i of a list of maps ({name: ...}) into out. */
static bool elem_name(const wh_mp_obj *list, uint32_t i, char *out, size_t cap)
{
    const wh_mp_obj *e = wh_mp_arr_at(list, i);
    return wh_mp_kind_of(e) == WH_MP_MAP && rt_mp_cstr(wh_mp_map_get(e, "name"), out, cap) &&
           rt_name_ok(out, strlen(out));
}

static int index_of(const wh_mp_obj *ctrs, const char *name)
{
    char n[RT_NAME_MAX + 1];
    for(uint32_t i = 0; i < wh_mp_size(ctrs); i++)
        if(elem_name(ctrs, i, n, sizeof(n)) && strcmp(n, name) == 0)
            return (int)i;
    return -1;
}

wh_code rt_stack_order(const wh_mp_obj *ctrs, int *order, wh_err *err)
{
    uint32_t n = ctrs ? wh_mp_size(ctrs) : 0;
    int indeg[RT_STACK_MAX] = {0};
    bool dep[RT_STACK_MAX][RT_STACK_MAX] = {{false}};
    for(uint32_t i = 0; i < n; i++) {
        const wh_mp_obj *e = wh_mp_arr_at(ctrs, i);
        char name[RT_NAME_MAX + 1], d[RT_NAME_MAX + 1];
        if(!elem_name(ctrs, i, name, sizeof(name)))
            return wh_err_at(err, WH_E_BAD_ARGS, "args.containers[%u].name: is required", i);
        if(index_of(ctrs, name) != (int)i)
            return wh_err_at(err, WH_E_BAD_ARGS, "args.containers[%u].name: %s is repeated", i, name);
        wh_err e2;
        wh_json *body = NULL;
        wh_code bad = wh_args_validate(e, rt_create_args, RT_CREATE_NARGS, true, &e2);
        if(!bad)
            bad = rt_create_body_build(e, &body, &e2);
        wh_json_free(body);
        if(bad) { /* "args.image: ..." of this container: "args.containers[1].image: ..." */
            char path[40];
            snprintf(path, sizeof(path), "args.containers[%u]", i);
            e2.code = WH_E_BAD_ARGS;
            wh_args_rebase(&e2, path);
            if(err)
                *err = e2;
            return WH_E_BAD_ARGS;
        }
        const wh_mp_obj *deps = wh_mp_map_get(e, "depends_on");
        if(deps && wh_mp_kind_of(deps) != WH_MP_ARRAY)
            return wh_err_at(err, WH_E_BAD_ARGS, "args.containers[%u].depends_on: must be a list", i);
        for(uint32_t j = 0; deps && j < wh_mp_size(deps); j++) {
            int k = rt_mp_cstr(wh_mp_arr_at(deps, j), d, sizeof(d)) ? index_of(ctrs, d) : -1;
            if(k < 0)
                return wh_err_at(err, WH_E_BAD_ARGS, "args.containers[%u].depends_on[%u]: not a container of this stack",
                                 i, j);
            if(!dep[i][k]) {
                dep[i][k] = true;
                indeg[i]++;
            }
        }
    }
    uint32_t done = 0;
    bool used[RT_STACK_MAX] = {false};
    while(done < n) {
        uint32_t pick = n;
        for(uint32_t i = 0; i < n && pick == n; i++)
            if(!used[i] && indeg[i] == 0)
                pick = i;
        if(pick == n)
            return wh_err_set(err, WH_E_BAD_ARGS, "args.containers", "args.containers: depends_on has a cycle");
        used[pick] = true;
        order[done++] = (int)pick;
        for(uint32_t i = 0; i < n; i++)
            if(dep[i][pick])
                indeg[i]--;
    }
    return WH_OK;
}

wh_code rt_stack_check(const wh_mp_obj *args, wh_json **result, wh_err *err)
{
    (void)result;
    int order[RT_STACK_MAX];
    static const char *const lists[] = {"networks", "volumes"};
    for(int l = 0; l < 2; l++) {
        const wh_mp_obj *list = wh_mp_map_get(args, lists[l]);
        char n[RT_NAME_MAX + 1];
        for(uint32_t i = 0; list && i < wh_mp_size(list); i++)
            if(!elem_name(list, i, n, sizeof(n)))
                return wh_err_at(err, WH_E_BAD_ARGS, "args.%s[%u]: must be {name, ...}", lists[l], i);
    }
    return rt_stack_order(wh_mp_map_get(args, "containers"), order, err);
}
