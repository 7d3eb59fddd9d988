/* Unit tests for host.stats' arithmetic (families/runtime/host_stats.c): the Docker CLI's CPU %
 * with the online-CPU factor (a server manager that forgets it reports a
 * busy 4-CPU container at a quarter), its fallbacks, and memory without the
 * page cache on cgroup v1, v2 and old engines. Inputs are the shapes
 * dockerd's /containers/{id}/stats answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runtime.h"

static wh_json *js(const char *text)
{
    wh_json *j = wh_json_parse(text, strlen(text), NULL);
    assert_non_null(j);
    return j;
}

/* Assert a CPU % to 1e-6, printing both values. */
static void cpu_is(const char *cpu_stats, int64_t pt, int64_t ps, double want)
{
    wh_json *c = js(cpu_stats);
    double got = -1;
    bool ok = rt_stats_cpu(c, pt, ps, &got);
    wh_json_free(c);
    if(!ok || got < want - 1e-6 || got > want + 1e-6)
        fail_msg("cpu %s against (%lld, %lld): got %s%f, want %f", cpu_stats, (long long)pt, (long long)ps,
                 ok ? "" : "no value ", got, want);
}

static void cpu_none(const char *cpu_stats, int64_t pt, int64_t ps)
{
    wh_json *c = js(cpu_stats);
    double got = -1;
    bool ok = rt_stats_cpu(c, pt, ps, &got);
    wh_json_free(c);
    if(ok)
        fail_msg("cpu %s against (%lld, %lld): got %f, want no value", cpu_stats, (long long)pt, (long long)ps, got);
}

static void test_cpu_online_factor(void **state)
{
    (void)state;
    /* 1 s of CPU time while the host's 4 CPUs spent 4 s: one full CPU = 100 % */
    cpu_is("{\"cpu_usage\":{\"total_usage\":3000000000},\"system_cpu_usage\":104000000000,\"online_cpus\":4}",
           2000000000, 100000000000, 100.0);
    /* the same container on 2 CPUs (2 s of host time) */
    cpu_is("{\"cpu_usage\":{\"total_usage\":3000000000},\"system_cpu_usage\":102000000000,\"online_cpus\":2}",
           2000000000, 100000000000, 100.0);
    /* two busy threads on 4 CPUs: 200 %, above 100 as the CLI shows it */
    cpu_is("{\"cpu_usage\":{\"total_usage\":4000000000},\"system_cpu_usage\":104000000000,\"online_cpus\":4}",
           2000000000, 100000000000, 200.0);
    /* idle */
    cpu_is("{\"cpu_usage\":{\"total_usage\":2000000000},\"system_cpu_usage\":104000000000,\"online_cpus\":4}",
           2000000000, 100000000000, 0.0);
}

static void test_cpu_percpu_fallback(void **state)
{
    (void)state;
    /* no online_cpus (cgroup v1, API < 1.27): the length of percpu_usage */
    cpu_is("{\"cpu_usage\":{\"total_usage\":1500,\"percpu_usage\":[1,2,3,4,5,6,7,8]},\"system_cpu_usage\":2000}",
           500, 1000, 800.0);
    /* online_cpus 0 counts as missing */
    cpu_is("{\"cpu_usage\":{\"total_usage\":1500,\"percpu_usage\":[1,2]},\"system_cpu_usage\":2000,"
           "\"online_cpus\":0}",
           1000, 1000, 100.0);
}

static void test_cpu_no_value(void **state)
{
    (void)state;
    /* system counter did not move (same tick), went back, CPU count unknown,
     * container counter reset (restarted container) */
    cpu_none("{\"cpu_usage\":{\"total_usage\":10},\"system_cpu_usage\":100,\"online_cpus\":2}", 5, 100);
    cpu_none("{\"cpu_usage\":{\"total_usage\":10},\"system_cpu_usage\":90,\"online_cpus\":2}", 5, 100);
    cpu_none("{\"cpu_usage\":{\"total_usage\":10},\"system_cpu_usage\":200}", 5, 100);
    cpu_none("{\"cpu_usage\":{\"total_usage\":1},\"system_cpu_usage\":200,\"online_cpus\":2}", 5, 100);
    cpu_none("{}", 0, 0);
}

static void mem_is(const char *memory_stats, int64_t want)
{
    wh_json *m = js(memory_stats);
    int64_t got = rt_stats_mem(m);
    wh_json_free(m);
    if(got != want)
        fail_msg("mem %s: got %lld, want %lld", memory_stats, (long long)got, (long long)want);
}

static void test_mem_without_page_cache(void **state)
{
    (void)state;
    /* cgroup v1: total_inactive_file wins over cache */
    mem_is("{\"usage\":10000000,\"limit\":1000000000,\"stats\":{\"cache\":6000000,"
           "\"total_inactive_file\":4000000,\"inactive_file\":3000000}}", 6000000);
    /* cgroup v2: inactive_file (there is no total_ and no cache) */
    mem_is("{\"usage\":10000000,\"stats\":{\"inactive_file\":2500000,\"active_file\":100,\"anon\":7000000}}",
           7500000);
    /* old engines: cache */
    mem_is("{\"usage\":10000000,\"stats\":{\"cache\":1000000}}", 9000000);
    /* a cache larger than the usage never gives a negative figure */
    mem_is("{\"usage\":1000,\"stats\":{\"inactive_file\":5000}}", 1000);
    /* none of them: the usage; nothing at all: 0 */
    mem_is("{\"usage\":1234,\"stats\":{}}", 1234);
    mem_is("{}", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_online_factor),
        cmocka_unit_test(test_cpu_percpu_fallback),
        cmocka_unit_test(test_cpu_no_value),
        cmocka_unit_test(test_mem_without_page_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
