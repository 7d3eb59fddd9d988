/* ecr: Amazon ECR credentials. ECR registries take Basic auth with user
 * "AWS" and a 12-hour password that ECR's GetAuthorizationToken returns;
 * that call is an AWS JSON 1.1 POST signed with SigV4 (libcurl's
 * CURLOPT_AWS_SIGV4 does the signing):
 *
 *   POST https://api.ecr.<region>.amazonaws.com/
 *   Content-Type: application/x-amz-json-1.1
 *   X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken
 *   {}
 *   -> {"authorizationData":[{"authorizationToken":"<base64 AWS:password>","expiresAt":<epoch s>,...}]}
 *
 * The request is unit-tested against a local listener; it has NOT been
 * tried against AWS itself (no internet here). The region is the entry's
 * `region`, else read from the URL host <account>.dkr.ecr.<region>.amazonaws.com. */
#ifndef RG_ECR_H
#define RG_ECR_H

#include "connection.h"

#define RG_ECR_TARGET "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"

/* The pieces of the GetAuthorizationToken request for `reg`. */
typedef struct rg_ecr_req {
    char region[32];
    char url[256];          /* the API endpoint */
    char sigv4[96];         /* "aws:amz:<region>:ecr" */
    const char *headers[3]; /* Content-Type and X-Amz-Target */
    const char *body;       /* "{}" */
} rg_ecr_req;

/* Build the request. `endpoint` overrides the API URL (tests); NULL for
 * AWS's. WH_E_BAD_CONFIG when there is no region or no access key. */
wh_code rg_ecr_build(const wh_inv_registry *reg, const char *endpoint, rg_ecr_req *out, wh_err *err);

/* Get the registry password for c's entry (cached until shortly before it
 * expires) and make c send it as Basic auth. `endpoint` as above. */
wh_code rg_ecr_login(rg_conn *c, const char *endpoint, wh_err *err);

#endif
