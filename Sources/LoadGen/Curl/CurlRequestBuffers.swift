import CCurlShim

/// Request headers as a curl_slist. libcurl keeps a pointer to the list, not a copy, so every easy handle that uses
/// it holds this object and the list lives until the last of them is gone.
final class CurlHeaderList {
    private(set) var list: UnsafeMutablePointer<curl_slist>?

    /// - Throws: `CurlError` when libcurl cannot allocate the list.
    init(_ headers: [String]) throws {
        for header in headers {
            guard let extended = curl_slist_append(list, header) else {
                throw CurlError(operation: "curl_slist_append", message: "out of memory building the header list")
            }
            list = extended
        }
    }

    deinit { if let list { curl_slist_free_all(list) } }
}

/// A request body. CURLOPT_POSTFIELDS does not copy, so easy handles hold this object while they may send it.
final class CurlPostBody {
    let bytes: UnsafeMutablePointer<UInt8>
    let count: Int

    init(_ body: [UInt8]) {
        count = body.count
        bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, body.count))
        bytes.initialize(from: body, count: body.count)
    }

    deinit { bytes.deallocate() }
}
