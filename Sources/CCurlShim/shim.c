#include "CCurlShim.h"

CURLcode CCurlShim_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode CCurlShim_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode CCurlShim_easy_setopt_ptr(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode CCurlShim_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode CCurlShim_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static size_t discard_body(char *data, size_t size, size_t nmemb, void *userdata) {
    (void)data;
    (void)userdata;
    return size * nmemb;
}

CURLcode CCurlShim_easy_discard_body(CURL *handle) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, discard_body);
}

CURLcode CCurlShim_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

CURLcode CCurlShim_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

CURLcode CCurlShim_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

CURLMcode CCurlShim_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

CURLMcode CCurlShim_multi_setopt_ptr(CURLM *multi, CURLMoption option, void *value) {
    return curl_multi_setopt(multi, option, value);
}

CURLMcode CCurlShim_multi_setopt_socketfunction(CURLM *multi, curl_socket_callback callback) {
    return curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, callback);
}

CURLMcode CCurlShim_multi_setopt_timerfunction(CURLM *multi, curl_multi_timer_callback callback) {
    return curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, callback);
}

int CCurlShim_multi_next_message(CURLM *multi, CCurlShim_message *out) {
    int remaining = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(multi, &remaining)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            out->done = 1;
            out->easy = msg->easy_handle;
            out->result = msg->data.result;
            return 1;
        }
    }
    return 0;
}

const char *CCurlShim_version(void) {
    return curl_version();
}

int CCurlShim_has_http2(void) {
    curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    return info != NULL && (info->features & CURL_VERSION_HTTP2) != 0;
}

CURLcode CCurlShim_easy_setopt_opensocket(CURL *handle, curl_opensocket_callback callback, void *clientp) {
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, callback);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(handle, CURLOPT_OPENSOCKETDATA, clientp);
}

CURLcode CCurlShim_easy_setopt_closesocket(CURL *handle, curl_closesocket_callback callback, void *clientp) {
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_CLOSESOCKETFUNCTION, callback);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(handle, CURLOPT_CLOSESOCKETDATA, clientp);
}

// MARK: - Pre-parsed URL

CURLcode CCurlShim_easy_set_parsed_url(CURL *handle, const char *url, CURLU **out) {
    CURLU *u = curl_url();
    if (u == NULL) return CURLE_OUT_OF_MEMORY;
    // The flags libcurl parses CURLOPT_URL with (url.c, parseurlandfillconn), so the request is the same.
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        curl_url_cleanup(u);
        return CURLE_URL_MALFORMAT;
    }
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_CURLU, u);
    if (rc != CURLE_OK) {
        curl_url_cleanup(u);
        return rc;
    }
    *out = u;
    return CURLE_OK;
}

void CCurlShim_url_cleanup(CURLU *url) {
    curl_url_cleanup(url);
}
