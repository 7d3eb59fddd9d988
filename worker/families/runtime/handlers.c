/* handlers: the `runtime` family's binding table: each type of the
 * catalogue's runtime family (common/catalog/runtime.c: args, checks, locks)
 * and the function that runs it. Engine statuses map to stable codes in
 * engine.c; the one-call verbs and their state guards are in
 * one_call_verbs.c, shared helpers in shared.c, creation in
 * container_create.c, logs into Redis in container_logs.c, exec and prunes
 * in container_exec.c, lists, images, volumes and networks in
 * images_volumes_networks.c. */
#include "runtime.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const wk_bind runtime_binds[] = {
    {"runtime.host.ping", rt_host_ping_run, NULL},
    {"runtime.host.info", rt_host_info_run, NULL},
    {"runtime.stack.deploy", rt_stack_deploy_run, NULL},
    {"runtime.stack.remove", rt_stack_remove_run, NULL},
    {"runtime.template.deploy", rt_tmpl_run, NULL},
    {"runtime.host.sync", rt_sync_run, NULL},
    {"runtime.host.stats", rt_stats_run, NULL},
    {"runtime.container.create", rt_create_run, NULL},
    {"runtime.container.run", rt_run_run, NULL},
    {"runtime.container.start", rt_verb_run, NULL},
    {"runtime.container.stop", rt_verb_run, NULL},
    {"runtime.container.restart", rt_verb_run, NULL},
    {"runtime.container.pause", rt_verb_run, NULL},
    {"runtime.container.unpause", rt_verb_run, NULL},
    {"runtime.container.kill", rt_verb_run, NULL},
    {"runtime.container.remove", rt_verb_run, NULL},
    {"runtime.container.rename", rt_rename_run, NULL},
    {"runtime.container.update", rt_update_run, NULL},
    {"runtime.container.inspect", rt_inspect_run, NULL},
    {"runtime.container.list", rt_list_run, NULL},
    {"runtime.container.exec", rt_exec_run, NULL},
    {"runtime.container.logs", rt_logs_run, NULL},
    {"runtime.image.pull", rt_pull_run, NULL},
    {"runtime.image.list", rt_list_run, NULL},
    {"runtime.image.inspect", rt_inspect_run, NULL},
    {"runtime.image.remove", rt_image_remove_run, NULL},
    {"runtime.image.prune", rt_prune_run, NULL},
    {"runtime.volume.create", rt_volume_create_run, NULL},
    {"runtime.volume.remove", rt_remove_named_run, NULL},
    {"runtime.volume.inspect", rt_inspect_run, NULL},
    {"runtime.volume.backup", rt_backup_run, NULL},
    {"runtime.volume.restore", rt_restore_run, NULL},
    {"runtime.volume.list", rt_list_run, NULL},
    {"runtime.volume.prune", rt_prune_run, NULL},
    {"runtime.network.create", rt_network_create_run, NULL},
    {"runtime.network.remove", rt_remove_named_run, NULL},
    {"runtime.network.list", rt_list_run, NULL},
    {"runtime.network.connect", rt_network_connect_run, NULL},
    {"runtime.network.disconnect", rt_network_connect_run, NULL},
};

const wk_family wk_family_runtime = {"runtime", runtime_binds, N(runtime_binds)};
