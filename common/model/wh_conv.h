/* wh_conv: converts between msgpack trees and JSON values.
 *
 * It speaks only to the two adapters (wh_mp, wh_json), never to the libraries.
 * msgpack -> JSON accepts nil, bool, int (within int64), float (finite), str
 * (valid UTF-8), array and map with str keys; bin and ext have no JSON form
 * and are refused. JSON -> msgpack maps every JSON kind to its natural twin. */
#ifndef WH_CONV_H
#define WH_CONV_H

#include "wh_json.h"
#include "wh_mp.h"

/* Convert `o` to a new JSON value. On failure returns NULL and fills `err`
 * with WH_E_BAD_ARGS, naming the offending path below `path` (for example
 * "args.env.KEY" for a map's value, "args.cmd[0]" for an array's). */
wh_json *wh_conv_to_json(const wh_mp_obj *o, const char *path, wh_err *err);

/* Pack the JSON value `j` into `p`, nested at most WH_MP_MAX_DEPTH deep.
 * Returns WH_OK, or WH_E_BAD_ARGS when too deep or WH_E_TOO_LARGE when the
 * packer's cap was hit. */
wh_code wh_conv_to_mp(const wh_json *j, wh_mp_pack *p, wh_err *err);

#endif
