import LabCore
import LoadGen

/// `LoadSettings` from command-line words, the way `meshbench load` gets them; every value is passed as `--flag=value`
/// so that a negative number is read as a value, not as a flag.
func loadSettings(url: String = "http://127.0.0.1:8080/", qps: String = "100", connections: Int = 4,
                  duration: String? = "1s", requests: Int? = nil, http2: Bool = false, streams: Int = 1,
                  method: String = "GET", bodySize: String = "0", headers: [String] = [], warmup: String = "0s",
                  timeout: String = "3s", allowRemote: Bool = false) throws -> LoadSettings {
    var words = [url, "--qps=\(qps)", "--connections=\(connections)", "--streams=\(streams)", "--method=\(method)",
                 "--body-size=\(bodySize)", "--warmup=\(warmup)", "--timeout=\(timeout)"]
    if let duration { words.append("--duration=\(duration)") }
    if let requests { words.append("--requests=\(requests)") }
    if http2 { words.append("--http2") }
    if allowRemote { words.append("--allow-remote") }
    for header in headers { words.append("--header=\(header)") }
    return try LoadSettings.parseAsBadInput(words)
}
