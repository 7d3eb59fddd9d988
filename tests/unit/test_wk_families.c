/* The worker's bindings against the job catalogue: every catalogue type is
 * bound to a run function exactly once, by its own family, and nothing is
 * bound that the catalogue does not describe (wk_families_check, which the
 * worker runs at start, says the same); the recipe step kinds and the SSH
 * container drivers the catalogue accepts all have their worker half. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers.h"
#include "provision.h"
#include "wk_job.h"

static const wk_family *const bindings[] = {
    &wk_family_system,
    &wk_family_registry,
    &wk_family_runtime,
    &wk_family_provision,
};
#define NB (sizeof(bindings) / sizeof(bindings[0]))

/* How often `type` is bound, and by which family (the last one). */
static int bound(const char *type, const wk_family **by)
{
    int n = 0;
    for(size_t f = 0; f < NB; f++)
        for(int i = 0; i < bindings[f]->nbinds; i++)
            if(strcmp(bindings[f]->binds[i].type, type) == 0) {
                n++;
                *by = bindings[f];
            }
    return n;
}

static void test_every_type_bound_once(void **state)
{
    (void)state;
    int types = 0;
    for(const wh_job_family *const *f = wh_cat_families; *f; f++)
        for(int i = 0; i < (*f)->ntypes; i++) {
            const char *name = (*f)->types[i].name;
            const wk_family *by = NULL;
            int n = bound(name, &by);
            if(n != 1)
                fail_msg("%s is bound %d times, want 1", name, n);
            if(strcmp(by->name, (*f)->name) != 0)
                fail_msg("%s (family %s) is bound by family %s", name, (*f)->name, by->name);
            const wk_bind *b = wk_bind_find(name);
            assert_non_null(b);
            assert_non_null(b->run);
            types++;
        }
    int binds = 0;
    for(size_t f = 0; f < NB; f++)
        for(int i = 0; i < bindings[f]->nbinds; i++) {
            if(!wh_cat_find(bindings[f]->binds[i].type))
                fail_msg("binding %s has no catalogue row", bindings[f]->binds[i].type);
            binds++;
        }
    assert_int_equal(binds, types);
    wh_err err = {0};
    if(wk_families_check(&err) != WH_OK)
        fail_msg("wk_families_check: %s", err.msg);
}

/* A worker-side admission check only replaces a catalogue check. */
static void test_check_overrides(void **state)
{
    (void)state;
    for(size_t f = 0; f < NB; f++)
        for(int i = 0; i < bindings[f]->nbinds; i++) {
            const wk_bind *b = &bindings[f]->binds[i];
            if(b->check && !wh_cat_find(b->type)->check)
                fail_msg("%s: a worker check where the catalogue has none", b->type);
        }
}

static void test_step_kinds_and_drivers(void **state)
{
    (void)state;
    int kinds = 0;
    while(pv_step_kind(kinds)) {
        if(!pv_step_bound(pv_step_kind(kinds)))
            fail_msg("recipe step kind %s has no run function", pv_step_kind(kinds));
        kinds++;
    }
    assert_int_equal(kinds, 7);
    for(const char *const *d = pv_ct_ssh_drivers; *d; d++)
        if(!pv_drv_find(*d, strlen(*d)))
            fail_msg("container driver %s has no command table", *d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_bound_once),
        cmocka_unit_test(test_check_overrides),
        cmocka_unit_test(test_step_kinds_and_drivers),
    };
    return cmocka_run_group_tests_name("wk_families", tests, NULL, NULL);
}
