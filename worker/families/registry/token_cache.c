/* token_cache: bearer token cache. See token_cache.h. */
#include "token_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char key[RG_TOKC_KEY_MAX];   /* "registry\nscope"; "" when free */
    char *token;                 /* malloc'd, wiped before free */
    int64_t fresh_until_ms;      /* monotonic */
} slot;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static slot g_slots[RG_TOKC_SLOTS];

static bool make_key(const char *registry, const char *scope, char *key)
{
    int k = snprintf(key, RG_TOKC_KEY_MAX, "%s\n%s", registry, scope);
    return k > 0 && k < RG_TOKC_KEY_MAX;
}

static void wipe(slot *s)
{
    if(s->token) {
        memset(s->token, 0, strlen(s->token));
        free(s->token);
    }
    memset(s, 0, sizeof(*s));
}

bool rg_tokc_get(const char *registry, const char *scope, int64_t now_ms, char *out, size_t cap)
{
    char key[RG_TOKC_KEY_MAX];
    bool found = false;
    if(!make_key(registry, scope, key))
        return false;
    pthread_mutex_lock(&g_mu);
    for(int i = 0; i < RG_TOKC_SLOTS && !found; i++) {
        slot *s = &g_slots[i];
        if(!s->key[0] || strcmp(s->key, key) != 0)
            continue;
        if(s->fresh_until_ms <= now_ms) {
            wipe(s);
            break;
        }
        size_t n = strlen(s->token);
        if(n < cap) {
            memcpy(out, s->token, n + 1);
            found = true;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return found;
}

/* The slot holding `key`, else a free one, else the soonest to expire. */
static slot *pick(const char *key)
{
    slot *victim = &g_slots[0];
    for(int i = 0; i < RG_TOKC_SLOTS; i++) {
        slot *s = &g_slots[i];
        if(s->key[0] && strcmp(s->key, key) == 0)
            return s;
        if(!s->key[0] && victim->key[0])
            victim = s;
        else if(s->key[0] && victim->key[0] && s->fresh_until_ms < victim->fresh_until_ms)
            victim = s;
    }
    return victim;
}

void rg_tokc_put(const char *registry, const char *scope, const char *token, int64_t now_ms, int64_t ttl_ms)
{
    char key[RG_TOKC_KEY_MAX];
    size_t n = strlen(token);
    if(ttl_ms <= RG_TOKC_MARGIN_MS || n == 0 || n >= RG_TOKC_TOKEN_MAX || !make_key(registry, scope, key))
        return;
    char *copy = malloc(n + 1);
    if(!copy)
        return;
    memcpy(copy, token, n + 1);
    pthread_mutex_lock(&g_mu);
    slot *s = pick(key);
    wipe(s);
    memcpy(s->key, key, strlen(key) + 1);
    s->token = copy;
    s->fresh_until_ms = now_ms + ttl_ms - RG_TOKC_MARGIN_MS;
    pthread_mutex_unlock(&g_mu);
}

void rg_tokc_drop(const char *registry)
{
    size_t n = strlen(registry);
    pthread_mutex_lock(&g_mu);
    for(int i = 0; i < RG_TOKC_SLOTS; i++)
        if(strncmp(g_slots[i].key, registry, n) == 0 && g_slots[i].key[n] == '\n')
            wipe(&g_slots[i]);
    pthread_mutex_unlock(&g_mu);
}

void rg_tokc_clear(void)
{
    pthread_mutex_lock(&g_mu);
    for(int i = 0; i < RG_TOKC_SLOTS; i++)
        wipe(&g_slots[i]);
    pthread_mutex_unlock(&g_mu);
}
