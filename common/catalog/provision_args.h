/* provision_args: the provision family's half in the catalogue
 * (provision.c, provision_names.c, provision_command_line.c,
 * provision_recipe.c, provision_container.c): the args tables and checks, and the pure helpers
 * its run functions share (worker/families/provision/provision.h includes
 * this). */
#ifndef PV_ARGS_H
#define PV_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"

#define PV_STDIN_MAX (1u << 20) /* bytes of stdin data of one command (the SSH adapter's cap) */
#define PV_TPL_MAX (1 << 20)    /* bytes of one rendered template */

/* What a container driver does (lxc and pct over SSH, docker on the
 * target's engine; worker/families/provision/drivers.h). */
typedef enum pv_action {
    PV_CLONE,      /* copy {template} to a new container {name} */
    PV_TAG,        /* set {tags} and {description} (lxc: nothing to do) */
    PV_START,
    PV_WAIT,       /* until running, bounded */
    PV_EXEC,       /* run the extra argv inside {name} */
    PV_STOP,
    PV_DESTROY,    /* stop if needed, then remove with its storage */
    PV_EXISTS,     /* exit 0 when {name} exists */
    PV_ACTION_COUNT
} pv_action;

/* ---- provision_names.c ---- */

/* Absolute, no empty, "." or ".." components, no trailing slash. */
bool pv_path_clean(const char *s, size_t n);

/* An upload's owner: "user[:group]", each a number or a name
 * ([A-Za-z_][A-Za-z0-9_.-]*, at most 32). */
bool pv_owner_ok(const char *s, size_t n);

/* Docker image references as the docker driver takes them: 1..255 of
 * [A-Za-z0-9_.:/@-], not starting with '-', '/' or '.', without "..". */
bool pv_dock_image_ok(const char *s, size_t n);

/* RFC 1123 label in lowercase; a hook file name (no '/', no ".."). */
bool pv_label_ok(const char *s, size_t n);
bool pv_hook_name_ok(const char *s, size_t n);

/* ---- provision_command_line.c ---- */

/* Render {{name}} references in `n` bytes of `s` from `vars` (a map of
 * strings). A reference to a var that is absent or not a string is
 * WH_E_BAD_ARGS naming `field`; "{{" not followed by a valid name and "}}"
 * is kept as is. On WH_OK *out is malloc'd and NUL-terminated. */
wh_code pv_tpl_render(const char *s, size_t n, const wh_mp_obj *vars, char **out, size_t *outn, const char *field,
                      wh_err *err);

/* Build the remote line for a command map {argv | script, env?, cwd?}
 * (see provision_command_line.c), rendering templates from `vars` (may be
 * NULL: then any reference is an error) when `render`. `fp` names the map
 * in messages ("args" or "args.steps[2]"). *line is malloc'd. */
wh_code pv_cmd_build(const wh_mp_obj *m, bool render, const wh_mp_obj *vars, const char *fp, char **line,
                     wh_err *err);

/* ---- provision_recipe.c: provision.run ---- */

#define PV_RUN_NARGS 3
extern const wh_arg_spec pv_run_args[PV_RUN_NARGS];
wh_code pv_run_check(const wh_mp_obj *args, wh_json **result, wh_err *err);

/* The name of step kind i ("exec", "check", ...), NULL past the last. */
const char *pv_step_kind(int i);

/* An lxc step's or a docker step's `action` as a driver action (and its
 * name); -1 if unknown. */
int pv_lxc_action(const wh_mp_obj *st, pv_action *act, const char **name);
int pv_docker_action(const wh_mp_obj *st, pv_action *act, const char **name);

/* ---- provision_container.c: provision.validate, container, destroy ---- */

#define PV_CT_NARGS 13
#define PV_DESTROY_NARGS 3
extern const wh_arg_spec pv_ct_args[PV_CT_NARGS];
extern const wh_arg_spec pv_destroy_args[PV_DESTROY_NARGS];
wh_code pv_ct_check(const wh_mp_obj *args, wh_json **result, wh_err *err);
wh_code pv_destroy_check(const wh_mp_obj *args, wh_json **result, wh_err *err);

/* The drivers that run over SSH, NULL-terminated ("lxc", "pct"). */
extern const char *const pv_ct_ssh_drivers[];

/* Reads an SSH public key line (wh_ssh_pubkey_check's contract). */
typedef wh_code pv_key_check(const char *s, size_t n, const char *field, wh_err *err);

/* The checks without I/O, each problem appended to `problems` as {field,
 * message}: first the args table's (pv_ct_args, every problem), then the
 * checks of the fields it accepted. `allow` is the protocol allow list
 * (comma list), or NULL to check only the shape of the names; the accepted
 * protocols, without duplicates, go to `protocols`. `key` reads the public
 * key (NULL: only the shape of its line). */
void pv_ct_check_static(const wh_mp_obj *a, const char *allow, pv_key_check *key, wh_json *problems,
                        wh_json *protocols);

/* pv_ct_check_static without an allow list, as an admission verdict:
 * bad_args naming the first problem's field, with every problem in the
 * message ("3 problem(s): ..."). */
wh_code pv_ct_check_with(const wh_mp_obj *a, pv_key_check *key, wh_err *err);

/* Append {field, message} to the list of problems; a NULL field is the
 * path the message starts with ("args.hooks[1]: ..."). */
void pv_problem(wh_json *list, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* No problem in the list names `field` or an element of it ("args.hooks"
 * for "args.hooks[1]"): its value passed the args table and the checks so
 * far, so it may be read and checked further (with I/O, too). */
bool pv_ct_unflagged(const wh_json *problems, const char *field);

/* Value `key` of args `a` when pv_ct_unflagged says "args.<key>" may be
 * checked further, else NULL (as if absent). */
const wh_mp_obj *pv_ct_accepted(const wh_mp_obj *a, const char *key, const wh_json *problems);

/* Every problem in one message: "2 problem(s): a: x; b: y". */
void pv_ct_join(const wh_json *problems, char *out, size_t cap);

/* args.driver is "docker". */
bool pv_ct_is_docker(const wh_mp_obj *a);

#endif
