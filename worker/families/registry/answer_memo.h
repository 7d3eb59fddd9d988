/* answer_memo: one job's memory of registry answers, so that N containers on
 * the same image cost one lookup (registry.update_check).
 *
 * It keeps, for the life of one job:
 *   - one open connection per inventory registry (and so its tokens; ECR
 *     entries log in once);
 *   - the HEAD answer per reference (registry, path, tag or digest);
 *   - the whole tag list per repository (registry, path).
 * Failures are remembered like answers: a missing repository is not asked
 * for twice. At most RG_MEMO_MAX answers of each kind are kept; beyond
 * that, lookups go to the registry every time. One job thread only. */
#ifndef RG_MEMO_H
#define RG_MEMO_H

#include "api_v2.h"

#define RG_MEMO_MAX 1024      /* answers of each kind kept */
#define RG_MEMO_CONNS 64      /* registries kept open */

typedef struct rg_memo rg_memo;

/* A new, empty memo whose connections use `ops` (copied); NULL when out
 * of memory. Free it with rg_memo_free (NULL is a no-op), which closes the
 * connections and wipes their tokens. */
rg_memo *rg_memo_new(const rg_ops *ops);
void rg_memo_free(rg_memo *m);

/* The open connection to `reg` (opened on first use; owned by the memo). */
wh_code rg_memo_conn(rg_memo *m, const wh_inv_registry *reg, rg_conn **out, wh_err *err);

/* rg_api_head through the memo: the same answer (or error) for the same
 * reference on the same registry. */
wh_code rg_memo_head(rg_memo *m, const wh_inv_registry *reg, const wh_ref *ref, rg_head *out, wh_err *err);

/* Every tag of reg's repository `path` (rg_api_tags) through the memo. On
 * WH_OK *out points into the memo: valid until rg_memo_free. */
wh_code rg_memo_tags(rg_memo *m, const wh_inv_registry *reg, const char *path, const rg_list **out, wh_err *err);

/* How many lookups reached the registry: HEADs and tag listings. */
void rg_memo_counts(const rg_memo *m, int *heads, int *tag_lists);

#endif
