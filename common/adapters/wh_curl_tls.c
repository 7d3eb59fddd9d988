/* wh_curl_tls: which failed transfers are TLS failures, and their words.
 *
 * A TLS failure is permanent: the certificates and the CA files do not
 * change between attempts, so it must not read as a network fault
 * (`unreachable`, retried). Four kinds, each with a message that names the
 * side that refused and is the same every time:
 *   - our own files or options are unusable (CURLE_SSL_CERTPROBLEM, ...);
 *   - the server's certificate is not trusted (CURLE_PEER_FAILED_VERIFICATION);
 *   - the server refused the handshake in which we presented our client
 *     certificate (an alert about it, or a close or reset before any answer);
 *   - any other handshake failure (CURLE_SSL_CONNECT_ERROR).
 * The refusal's words never depend on which of alert, reset or broken pipe
 * won the race, so the same refusal reads the same on every job; the
 * server's own log says why it refused.
 *
 * Why a refused client certificate needs more than the CURLE_SSL_* codes:
 * with TLS 1.3 the server checks it only after our side of the handshake
 * is complete, so the refusal reaches curl as a failed read or write of the
 * first request - the server's alert, or a reset or a broken pipe when its
 * close wins the race - and curl's error buffer keeps whichever message came
 * first ("getpeername() failed with errno 107", "Send failure: Broken
 * pipe"). Checked against dockerd --tlsverify with a certificate from
 * another CA: over TLS 1.3 every refusal ended CURLE_RECV_ERROR with the
 * handshake complete (CURLINFO_APPCONNECT_TIME_T > 0) and no byte of an
 * answer; over TLS 1.2 CURLE_SSL_CONNECT_ERROR with APPCONNECT_TIME_T 0.
 * So a connection made for this transfer over https, on which we presented
 * a client certificate, that fails to read or write before the first byte
 * of an answer, is taken as the server refusing that certificate. A network
 * fault at exactly that moment reads the same; it is rare, and saying
 * "refused" there costs one job, while saying "unreachable" for every
 * refusal retried every job until it died. */
#include "wh_curl_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Options or local files curl could not use. */
static bool local_problem(CURLcode cc)
{
    return cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CIPHER || cc == CURLE_SSL_CACERT_BADFILE ||
           cc == CURLE_SSL_CRL_BADFILE || cc == CURLE_SSL_ENGINE_NOTFOUND || cc == CURLE_SSL_ENGINE_SETFAILED ||
           cc == CURLE_SSL_ENGINE_INITFAILED || cc == CURLE_USE_SSL_FAILED;
}

/* The server's certificate (or its status) did not pass our checks. */
static bool untrusted(CURLcode cc)
{
    return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_ISSUER_ERROR ||
           cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || cc == CURLE_SSL_INVALIDCERTSTATUS;
}

/* The alert's name in an OpenSSL message ("...:sslv3 alert bad
 * certificate, errno 0" -> "bad certificate") into out; false when the
 * message names no alert. */
static bool alert_name(const char *msg, char *out, size_t cap)
{
    const char *a = strstr(msg, "alert ");
    if(!a || !cap)
        return false;
    a += 6;
    size_t n = strspn(a, "abcdefghijklmnopqrstuvwxyz ");
    while(n && a[n - 1] == ' ')
        n--;
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), a);
    return n > 0;
}

/* An alert a server sends about the certificate we presented. */
static bool cert_alert(const char *alert)
{
    static const char *const names[] = {"bad certificate", "unknown ca", "certificate required",
                                        "certificate unknown", "certificate expired", "certificate revoked",
                                        "unsupported certificate", "access denied", NULL};
    for(int i = 0; names[i]; i++)
        if(strcmp(alert, names[i]) == 0)
            return true;
    return false;
}

/* A fresh https connection with our client certificate that broke before
 * any answer: the server refused the certificate (see the top). */
static bool refused_after_handshake(CURL *e, CURLcode cc, const wh_curl_req *req)
{
    if(cc != CURLE_RECV_ERROR && cc != CURLE_SEND_ERROR && cc != CURLE_GOT_NOTHING)
        return false;
    if(!req->cert_file || strncasecmp(req->url, "https://", 8) != 0)
        return false;
    long connects = 0, header_bytes = 0;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(e, CURLINFO_HEADER_SIZE, &header_bytes);
    return connects > 0 && header_bytes == 0;
}

wh_code wh_curl__tls(CURL *e, CURLcode cc, const char *errbuf, const wh_curl_req *req, wh_err *err)
{
    const char *peer = req->peer ? req->peer : "server";
    const char *why = errbuf && *errbuf ? errbuf : curl_easy_strerror(cc);
    char alert[48] = "";
    bool has_alert = alert_name(why, alert, sizeof(alert));
    if(local_problem(cc))
        return wh_err_set(err, WH_E_TLS, "", "our TLS files or options are unusable: %s", why);
    if(untrusted(cc))
        return wh_err_set(err, WH_E_TLS, "", "%s certificate not trusted: %s", peer, why);
    bool handshake = cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CLIENTCERT;
    if(req->cert_file && ((handshake && (!has_alert || cert_alert(alert))) || refused_after_handshake(e, cc, req)))
        return wh_err_set(err, WH_E_TLS, "", "%s refused the TLS handshake with our client certificate", peer);
    if(handshake)
        return wh_err_set(err, WH_E_TLS, "", "TLS handshake with the %s failed: %s", peer, why);
    return WH_OK;
}
