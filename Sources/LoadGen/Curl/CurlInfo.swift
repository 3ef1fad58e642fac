import CCurlShim

/// What the linked libcurl can do, for `meshbench doctor` and report.json's host block.
public enum CurlInfo {
    public static var version: String { String(cString: CCurlShim_version()) }
    public static var supportsHTTP2: Bool { CCurlShim_has_http2() != 0 }
}
