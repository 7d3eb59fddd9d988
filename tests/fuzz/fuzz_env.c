/* fuzz_env: the envelope decoder (wh_env_decode) on arbitrary bytes.
 *
 * Properties beyond "no crash, no leak, no UB":
 *  - a failure carries one of the four documented codes and a message;
 *  - a decoded envelope has a valid type, and a valid target and lock
 *    when they are present. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wh_env.h"

#define MAX_BODY (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wh_env env;
    wh_err err = {0};
    wh_code rc = wh_env_decode(data, size, MAX_BODY, &env, &err);
    if(rc != WH_OK) {
        if(rc != WH_E_TOO_LARGE && rc != WH_E_BAD_MSGPACK && rc != WH_E_BAD_ENVELOPE &&
           rc != WH_E_UNSUPPORTED_SCHEMA)
            abort();
        if(err.msg[0] == '\0')
            abort();
        wh_env_release(&env);
        return 0;
    }
    if(!wh_env_type_valid(env.type, strlen(env.type)))
        abort();
    if(env.target[0] && !wh_env_target_valid(env.target, strlen(env.target)))
        abort();
    if(env.lock[0] && !wh_env_lock_valid(env.lock, strlen(env.lock)))
        abort();
    if(!env.args || wh_mp_kind_of(env.args) != WH_MP_MAP)
        abort();
    wh_env_release(&env);
    return 0;
}
