/* runtime_args: the runtime family's half in the catalogue (runtime.c,
 * runtime_names.c, runtime_create_body.c, runtime_stack.c,
 * runtime_template.c): the args
 * tables and checks, and the pure helpers its run functions share
 * (worker/families/runtime/runtime.h includes this). */
#ifndef RT_ARGS_H
#define RT_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"

#define RT_NAME_MAX 128 /* container, volume, network names */
#define RT_STACK_MAX 32 /* containers, networks or volumes per stack */

/* ---- runtime_names.c ---- */

/* Docker object names and ids: [A-Za-z0-9][A-Za-z0-9_.-]{0,127}. */
bool rt_name_ok(const char *s, size_t n);

/* Image references: name[:tag][@digest], registry host and path included
 * (1..255 bytes of [A-Za-z0-9_.-/:@], not starting with - / or :). */
bool rt_ref_ok(const char *s, size_t n);

/* Copy a msgpack str of at most cap-1 bytes into out; false otherwise. */
bool rt_mp_cstr(const wh_mp_obj *o, char *out, size_t cap);

/* ---- runtime_create_body.c: container.create, container.run, container.exec ---- */

#define RT_CREATE_NARGS 21
extern const wh_arg_spec rt_create_args[RT_CREATE_NARGS];
wh_code rt_create_check(const wh_mp_obj *args, wh_json **result, wh_err *err);

/* Build the /containers/create body from validated container.create args,
 * checking every shape the table cannot (bad_args naming the field). The
 * target host's rules for binds are the worker's (rt_create_body). On WH_OK
 * *body is a new JSON object the caller frees. */
wh_code rt_create_body_build(const wh_mp_obj *args, wh_json **body, wh_err *err);

/* container.run's args.health: {cmd: [str] | http_port, path?,
 * interval_ms?, retries?}; absent is fine. bad_args naming args.health. */
wh_code rt_health_check_shape(const wh_mp_obj *h, wh_err *err);

#define RT_EXEC_NARGS 5
extern const wh_arg_spec rt_exec_args[RT_EXEC_NARGS];
wh_code rt_exec_check(const wh_mp_obj *args, wh_json **result, wh_err *err);

/* ---- runtime_stack.c: stack.deploy, stack.remove ---- */

#define RT_STACK_NARGS 4
#define RT_UNSTACK_NARGS 2
extern const wh_arg_spec rt_stack_args[RT_STACK_NARGS];
extern const wh_arg_spec rt_unstack_args[RT_UNSTACK_NARGS];
wh_code rt_stack_check(const wh_mp_obj *args, wh_json **result, wh_err *err);

/* Dependency order of a stack's containers (Kahn): order[] (room for
 * RT_STACK_MAX) gets their indexes. bad_args naming args.containers for a
 * container whose args are bad, an unknown or repeated name, or a cycle. */
wh_code rt_stack_order(const wh_mp_obj *ctrs, int *order, wh_err *err);

/* ---- runtime_template.c: template.deploy ---- */

#define RT_TMPL_NARGS 4
extern const wh_arg_spec rt_tmpl_args[RT_TMPL_NARGS];
wh_code rt_tmpl_check(const wh_mp_obj *args, wh_json **result, wh_err *err);

/* The template.deploy args `a` as stack.deploy args (a new JSON object the
 * caller frees), before the stack's own checks. WH_E_BAD_ARGS naming the
 * template field that cannot be translated. */
wh_code rt_tmpl_translate(const wh_mp_obj *a, wh_json **out, wh_err *err);

/* The translation as a parsed msgpack document of stack args that passed
 * rt_stack_check. Initialise *pk and *doc to NULL; whatever the result,
 * free *doc, then *pk (which holds its bytes). */
wh_code rt_tmpl_stack_doc(const wh_mp_obj *a, wh_mp_pack **pk, wh_mp_doc **doc, wh_err *err);

#endif
