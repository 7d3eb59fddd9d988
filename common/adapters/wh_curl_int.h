/* wh_curl_int: what the files of the libcurl adapter share (wh_curl.c:
 * requests; wh_curl_tls.c: which failures are TLS failures). Only these two
 * files include it, and with it libcurl's header. Not a public API. */
#ifndef WH_CURL_INT_H
#define WH_CURL_INT_H

#include <curl/curl.h>

#include "wh_curl.h"

/* After a transfer on easy handle `e` ended with `cc` (curl's error
 * buffer `errbuf`): WH_E_TLS with err set when it was a TLS failure (see
 * wh_curl_tls.c for how one is told), else WH_OK with err untouched. */
wh_code wh_curl__tls(CURL *e, CURLcode cc, const char *errbuf, const wh_curl_req *req, wh_err *err);

#endif
