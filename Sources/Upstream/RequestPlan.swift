import Foundation
import LabCore

/// What one request asked the server to do: the server's defaults with the request's query parameters applied.
///
/// The parameters follow fortio's echo server, so load scripts written for fortio work against this server too:
/// `?size=N` body size, `?delay=DIST` service time, `?status=CODE` response status, and `/echo` (or `?echo=1`) to send
/// the request body back. Unknown parameters are ignored, as fortio does, so a cache-busting `?n=123` is harmless.
struct RequestPlan: Equatable {
    var status: Int
    var bodySize: Int
    var delay: DelayDistribution
    var echo: Bool

    /// A request the server refuses to plan: answered with `status` and `reason` as a plain-text body.
    struct Rejection: Error, Equatable {
        var status: Int
        var reason: String
    }

    static func parse(uri: String, configuration: UpstreamConfiguration) -> Result<RequestPlan, Rejection> {
        var plan = RequestPlan(
            status: 200,
            bodySize: configuration.responseSize,
            delay: configuration.delay,
            echo: false
        )
        let (path, query) = split(uri: uri)
        plan.echo = path == "/echo" || path.hasPrefix("/echo/")

        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts.first.flatMap({ String($0).removingPercentEncoding }),
                let value = (parts.count > 1 ? String(parts[1]) : "").removingPercentEncoding
            else {
                return .failure(bad("query parameter '\(shown(String(pair)))' is not valid percent-encoding"))
            }
            switch name {
            case "size":
                guard let size = ByteSize.parse(value) else {
                    return .failure(bad("size: '\(shown(value))' is not \(ByteSize.allowedForm)"))
                }
                guard size <= configuration.maxBodySize else {
                    return .failure(
                        bad("size: \(size) bytes is more than this server's maximum of \(configuration.maxBodySize)")
                    )
                }
                plan.bodySize = size
            case "delay":
                guard let delay = DelayDistribution.parse(value) else {
                    return .failure(bad("delay: '\(shown(value))' is not one of \(DelayDistribution.allowedForms)"))
                }
                if let problem = delay.problem(maxDelay: configuration.maxDelay) {
                    return .failure(bad("delay: '\(shown(value))' \(problem)"))
                }
                plan.delay = delay
            case "status":
                guard let status = Int(value), (200...599).contains(status) else {
                    return .failure(bad("status: '\(shown(value))' is not an HTTP status code from 200 to 599"))
                }
                plan.status = status
            case "echo":
                switch value.lowercased() {
                case "", "1", "true", "yes": plan.echo = true
                case "0", "false", "no": plan.echo = false
                default: return .failure(bad("echo: '\(shown(value))' is not 1 or 0"))
                }
            default:
                continue
            }
        }
        return .success(plan)
    }

    /// Splits a request target into path and query. Absolute-form targets (`http://host/path?q`), which a proxy
    /// may forward unchanged, lose their scheme and authority; a fragment, which clients should never send, is dropped.
    static func split(uri: String) -> (path: Substring, query: Substring) {
        var target = Substring(uri)
        if let fragment = target.firstIndex(of: "#") {
            target = target[..<fragment]
        }
        if let schemeEnd = target.range(of: "://"), !target[..<schemeEnd.lowerBound].contains("/") {
            let afterAuthority = target[schemeEnd.upperBound...]
            target = afterAuthority.firstIndex(where: { $0 == "/" || $0 == "?" }).map { afterAuthority[$0...] } ?? "/"
        }
        guard let mark = target.firstIndex(of: "?") else { return (target, "") }
        return (target[..<mark], target[target.index(after: mark)...])
    }

    private static func bad(_ reason: String) -> Rejection {
        Rejection(status: 400, reason: reason)
    }

    /// Keeps an echoed user value short so a long query cannot turn an error reply into an amplifier.
    private static func shown(_ value: String) -> String {
        value.count <= 64 ? value : String(value.prefix(64)) + "..."
    }
}
