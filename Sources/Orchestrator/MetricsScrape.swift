import Foundation
import LabCore
import LabSys
import Report

#if canImport(Glibc)
import Glibc
#endif

/// Reads a component's metrics or statistics page where perhaps only its namespace reaches it (a node proxy's, on its
/// node's loopback; a sidecar's, in its pod): a plain HTTP/1.0 `GET` from a socket made inside that namespace (or the
/// host's, for nil), bounded in time. Also the readiness probe of a data plane whose definition waits on an HTTP path.
enum MetricsScrape {
    static func get(_ address: HostPort, path: String = "/metrics", in namespace: NetworkNamespace?,
                    seconds: Int = 2) throws -> String {
        let open = { () throws -> Int32 in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw LabError.runFailed("socket: \(String(cString: strerror(errno)))") }
            var limit = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(address.port).bigEndian
            inet_pton(AF_INET, address.host, &addr.sin_addr)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard rc == 0 else {
                let message = String(cString: strerror(errno))
                close(fd)
                throw LabError.runFailed("cannot reach \(address): \(message)")
            }
            return fd
        }
        let fd = try namespace.map { try $0.run(open) } ?? open()
        defer { close(fd) }
        // HTTP/1.0, so that no server answers in chunks (which would split a sample line).
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(address)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw LabError.runFailed("cannot ask \(address) for \(path)")
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 {
                response += chunk[..<n]
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        guard text.hasPrefix("HTTP/1."), (200..<300).contains(status), let body = text.range(of: "\r\n\r\n") else {
            throw LabError.runFailed("\(address) did not answer GET \(path) with a 2xx status")
        }
        return String(text[body.upperBound...])
    }

    /// The unlabelled samples of a Prometheus text body, by metric name (`# HELP`, `# TYPE` and labelled series
    /// left out).
    static func samples(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.contains("{") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let value = Double(fields[1]) { values[String(fields[0])] = value }
        }
        return values
    }
}

extension TunnelCounters {
    /// The counters a node proxy's `GET /metrics` answered (`NodeProxyMetrics`' names).
    init(prometheusText text: String) {
        let s = MetricsScrape.samples(text)
        func v(_ name: String) -> UInt64 { UInt64(max(0, s["node_proxy_\(name)_total"] ?? 0)) }
        self.init(outboundConnections: v("outbound_connections"), tunnelConnections: v("tunnel_connections"),
                  streamsOut: v("streams_out"), streamsIn: v("streams_in"), denied: v("denied"),
                  handshakesRefused: v("handshakes_refused"), failed: v("tunnels_failed"),
                  bytesIntoTunnels: v("bytes_into_tunnels"), bytesOutOfTunnels: v("bytes_out_of_tunnels"))
    }
}
