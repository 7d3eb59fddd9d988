/* pv_drv: the command lines each container driver builds (pct cannot be
 * run here, so these lines are its only test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers.h"

/* argv joined with '|' for comparison. */
static const char *joined(const pv_drv_line *a)
{
    static char buf[2048];
    size_t o = 0;
    buf[0] = '\0';
    for(int i = 0; i < a->n; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? "|" : "", a->v[i]);
    return buf;
}

static void expect(const char *drv, pv_action act, const pv_drv_vals *v, const char *want)
{
    const pv_driver *d = pv_drv_find(drv, strlen(drv));
    assert_non_null(d);
    pv_drv_line a;
    int rc = pv_drv_argv(d, act, v, &a);
    if(!want) {
        assert_int_equal(rc, -1);
        assert_int_equal(a.n, 0);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(joined(&a), want);
}

static void test_lxc(void **state)
{
    (void)state;
    const char *cmd[] = {"sh", "-c", "echo $1", "x; rm -rf /"};
    pv_drv_vals v = {.lxc_path = "/var/lib/wharf-lxc", .name = "web-1", .template_ = "tmpl", .cmd = cmd, .ncmd = 4};
    expect("lxc", PV_CLONE, &v, "lxc-copy|-P|/var/lib/wharf-lxc|-n|tmpl|-N|web-1");
    expect("lxc", PV_TAG, &v, NULL);
    expect("lxc", PV_START, &v, "lxc-start|-P|/var/lib/wharf-lxc|-n|web-1");
    expect("lxc", PV_WAIT, &v, "lxc-wait|-P|/var/lib/wharf-lxc|-n|web-1|-s|RUNNING|-t|30");
    expect("lxc", PV_EXEC, &v, "lxc-attach|-P|/var/lib/wharf-lxc|-n|web-1|--|sh|-c|echo $1|x; rm -rf /");
    expect("lxc", PV_STOP, &v, "lxc-stop|-P|/var/lib/wharf-lxc|-n|web-1|-k");
    expect("lxc", PV_DESTROY, &v, "lxc-destroy|-P|/var/lib/wharf-lxc|-f|-n|web-1");
    expect("lxc", PV_EXISTS, &v, "lxc-info|-P|/var/lib/wharf-lxc|-n|web-1|-s");
    v.lxc_path = "";
    expect("lxc", PV_START, &v, "lxc-start|-n|web-1");
}

static void test_pct(void **state)
{
    (void)state;
    const char *cmd[] = {"passwd", "-l", "root"};
    pv_drv_vals v = {.name = "123", .template_ = "9000", .tags = "wharf;web", .description = "web-1 by wharf",
                     .cmd = cmd, .ncmd = 3};
    expect("pct", PV_CLONE, &v, "pct|clone|9000|123|--full|1");
    expect("pct", PV_TAG, &v, "pct|set|123|--tags|wharf;web|--description|web-1 by wharf");
    expect("pct", PV_START, &v, "pct|start|123");
    expect("pct", PV_EXEC, &v, "pct|exec|123|--|passwd|-l|root");
    expect("pct", PV_STOP, &v, "pct|stop|123");
    expect("pct", PV_DESTROY, &v, "sh|-c|pct stop \"$1\" >/dev/null 2>&1; pct destroy \"$1\" --purge 1|sh|123");
    expect("pct", PV_EXISTS, &v, "pct|status|123");
    const pv_driver *d = pv_drv_find("pct", 3);
    pv_drv_line a;
    assert_int_equal(pv_drv_argv(d, PV_WAIT, &v, &a), 0);
    assert_string_equal(a.v[a.n - 1], "123"); /* the id is an argument, never part of the script */
    assert_string_equal(a.v[0], "sh");
}

static void test_limits_and_unknown(void **state)
{
    (void)state;
    assert_null(pv_drv_find("docker2", 7));
    assert_null(pv_drv_find("lx", 2));
    const char *many[PV_DRV_ARGV_MAX];
    for(int i = 0; i < PV_DRV_ARGV_MAX; i++)
        many[i] = "x";
    pv_drv_vals v = {.name = "n", .cmd = many, .ncmd = PV_DRV_ARGV_MAX};
    pv_drv_line a;
    assert_int_equal(pv_drv_argv(pv_drv_find("lxc", 3), PV_EXEC, &v, &a), -1);
    assert_int_equal(a.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lxc),
        cmocka_unit_test(test_pct),
        cmocka_unit_test(test_limits_and_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
