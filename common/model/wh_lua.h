/* wh_lua: the Lua scripts under common/model/lua/, embedded at build time by
 * cmake/embed.cmake into wh_lua.c (generated). Each is NUL-terminated. */
#ifndef WH_LUA_H
#define WH_LUA_H

extern const char wh_lua_enqueue[];
extern const char wh_lua_unenqueue[];
extern const char wh_lua_start[];
extern const char wh_lua_finish[];
extern const char wh_lua_requeue[];
extern const char wh_lua_revive[];
extern const char wh_lua_stats[];
extern const char wh_lua_cancel[];
extern const char wh_lua_due[];
extern const char wh_lua_renew[];
extern const char wh_lua_reap[];
extern const char wh_lua_lead[];

#endif
