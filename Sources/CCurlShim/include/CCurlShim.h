// Typed wrappers for libcurl's variadic calls.
//
// Why this exists: curl_easy_setopt, curl_multi_setopt and curl_easy_getinfo are C variadic functions, which Swift
// cannot call ("Variadic function is unavailable"). Each wrapper fixes one argument type, as
// swift-corelibs-foundation's CFURLSession_easy_setopt_* do. Only LoadGen's Curl/ files import this (CurlEasyHandle,
// CurlMultiHandle and their helpers); all logic stays in Swift. If Swift ever gains variadic C calls these can be
// removed.
#pragma once
#include <curl/curl.h>
#include <stdint.h>
#include <sys/types.h>

CURLcode CCurlShim_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode CCurlShim_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode CCurlShim_easy_setopt_ptr(CURL *handle, CURLoption option, const void *value);
CURLcode CCurlShim_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode CCurlShim_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);

/// Socket open/close hooks: the load generator counts live connections itself. libcurl 7.88's HTTP/2 prior-knowledge
/// mode fails every request on a reused connection (curl issue #10634, fixed in 7.89), so the driver must know when
/// a transfer will need a new connection and when it will reuse one.
CURLcode CCurlShim_easy_setopt_opensocket(CURL *handle, curl_opensocket_callback callback, void *clientp);
CURLcode CCurlShim_easy_setopt_closesocket(CURL *handle, curl_closesocket_callback callback, void *clientp);

/// Installs a write callback that throws the body away: the load generator counts bytes from
/// CURLINFO_SIZE_DOWNLOAD_T, and a C callback keeps the per-chunk cost out of Swift.
CURLcode CCurlShim_easy_discard_body(CURL *handle);

CURLcode CCurlShim_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode CCurlShim_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode CCurlShim_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **value);

CURLMcode CCurlShim_multi_setopt_long(CURLM *multi, CURLMoption option, long value);
CURLMcode CCurlShim_multi_setopt_ptr(CURLM *multi, CURLMoption option, void *value);
CURLMcode CCurlShim_multi_setopt_socketfunction(CURLM *multi, curl_socket_callback callback);
CURLMcode CCurlShim_multi_setopt_timerfunction(CURLM *multi, curl_multi_timer_callback callback);

/// The fields of a CURLMsg that Swift needs; CURLMsg's `data` is a union that Swift imports awkwardly.
typedef struct {
    int done;            // 1 when msg == CURLMSG_DONE
    CURL *easy;
    CURLcode result;
} CCurlShim_message;

/// Reads one message from curl_multi_info_read; returns 0 when the queue is empty.
int CCurlShim_multi_next_message(CURLM *multi, CCurlShim_message *out);

/// libcurl's version and feature bits, for `meshbench doctor`.
const char *CCurlShim_version(void);
int CCurlShim_has_http2(void);

/// Parses `url` once into a CURLU and hands it to the easy handle (CURLOPT_CURLU), so libcurl copies the parsed URL
/// for each transfer instead of parsing CURLOPT_URL's string again. The caller owns `*out` (CCurlShim_url_cleanup)
/// and keeps it alive as long as the handle. CURLE_URL_MALFORMAT when libcurl cannot parse it.
CURLcode CCurlShim_easy_set_parsed_url(CURL *handle, const char *url, CURLU **out);
void CCurlShim_url_cleanup(CURLU *url);
