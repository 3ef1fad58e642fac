import CCurlShim
import LabCore

/// How one transfer ended, as libcurl's CURLcode for it.
struct CurlTransferResult: Equatable {
    let code: CURLcode

    var isOK: Bool { code == CURLE_OK }

    /// libcurl's text for the code (curl_easy_strerror).
    var text: String { String(cString: curl_easy_strerror(code)) }

    /// Maps libcurl's result to the error classes every report uses.
    func outcome(status: Int) -> RequestOutcome {
        switch code {
        case CURLE_OK:
            return status > 0 ? .response(status: status) : .failed(.protocol)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .failed(.connect)
        case CURLE_OPERATION_TIMEDOUT:
            return .failed(.timeout)
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            return .failed(.reset)
        case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_UNSUPPORTED_PROTOCOL,
             CURLE_BAD_CONTENT_ENCODING, CURLE_HTTP3:
            return .failed(.protocol)
        default:
            return .failed(.other)
        }
    }
}
