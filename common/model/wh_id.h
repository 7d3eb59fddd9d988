/* wh_id: job ids and randomness.
 *
 * A job id matches [A-Za-z0-9_-]{1,64}. Generated ids are 22 characters of
 * that alphabet from the kernel's CSPRNG (about 131 bits), starting with a
 * letter or digit so they never look like a command-line option. They never
 * collide in practice and are safe in Redis keys, AMQP message ids and URLs. */
#ifndef WH_ID_H
#define WH_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WH_ID_MAX 64     /* longest valid id, bytes */
#define WH_ID_GEN_LEN 22 /* length of generated ids */

/* Write a new NUL-terminated id into out (at least WH_ID_GEN_LEN + 1 bytes). */
void wh_id_new(char *out);

/* True when s[0..n) is a valid job id. */
bool wh_id_valid(const char *s, size_t n);

/* A uniformly random 64-bit value from the kernel CSPRNG. */
uint64_t wh_random_u64(void);

#endif
