import CCurlShim

/// A libcurl failure while setting up or driving the run (not a failed request: those are counted, never thrown).
public struct CurlError: Error, CustomStringConvertible {
    /// What was asked of libcurl: "setting CURLOPT_URL", "curl_multi_add_handle".
    public var operation: String
    /// The CURLcode or CURLMcode.
    public var code: Int32
    /// libcurl's text for the code (curl_easy_strerror / curl_multi_strerror).
    public var message: String
    /// What libcurl wrote to the handle's CURLOPT_ERRORBUFFER, when it wrote anything: often more precise.
    public var detail: String?

    public var description: String {
        var text = "libcurl \(operation) failed (\(code)): \(message)"
        if let detail, !detail.isEmpty, detail != message { text += " (\(detail))" }
        return text
    }

    init(operation: String, code: CURLcode, detail: String? = nil) {
        self.operation = operation
        self.code = Int32(code.rawValue)
        message = String(cString: curl_easy_strerror(code))
        self.detail = detail
    }

    init(operation: String, code: CURLMcode) {
        self.operation = operation
        self.code = Int32(code.rawValue)
        message = String(cString: curl_multi_strerror(code))
        detail = nil
    }

    /// A call that returned no handle at all (curl_easy_init, curl_multi_init).
    init(operation: String, message: String) {
        self.operation = operation
        code = -1
        self.message = message
        detail = nil
    }
}
