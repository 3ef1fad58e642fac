import Foundation
import LabCore
import LabTestSupport
import NIOCore
import NIOHTTP1
import Testing

@testable import Upstream

#if canImport(Glibc)
import Glibc
#endif

/// The injected faults (`UpstreamFaults`) against real loopback clients: each mode does what it says, on the requests
/// the seed picks, and the server counts what it injected.
@Suite("Upstream fault injection")
struct UpstreamFaultTests {
    /// Servers whose stalled connections would otherwise hold `stop()` for the default five seconds.
    func configuration(_ faults: UpstreamFaults, responseSize: Int = 16) -> UpstreamConfiguration {
        UpstreamConfiguration(responseSize: responseSize, shutdownGracePeriod: .milliseconds(100), faults: faults)
    }

    /// The first seed from 1 up whose first draws are `pattern`, so a test can say which arrival gets which fault
    /// without depending on the hash's particular values.
    func seed(giving pattern: [RequestFault], with faults: UpstreamFaults) -> UpstreamFaults {
        var candidate = faults
        for seed in UInt64(1)...10_000 {
            candidate.seed = seed
            if pattern.indices.allSatisfy({ FaultDraws.fault(forArrival: UInt64($0), faults: candidate) == pattern[$0] }) {
                return candidate
            }
        }
        Issue.record("no seed below 10000 draws \(pattern)")
        return candidate
    }

    // MARK: Validation

    @Test(arguments: [
        (UpstreamFaults(resetFraction: -0.1), "reset fraction must be between 0 and 1 (got -0.1)"),
        (UpstreamFaults(stallFraction: 1.5), "stall fraction must be between 0 and 1 (got 1.5)"),
        (UpstreamFaults(statusFraction: .nan), "status fraction must be between 0 and 1"),
        (UpstreamFaults(resetFraction: 0.6, stallFraction: 0.5), "together they must be at most 1"),
        (UpstreamFaults(statusFraction: 0.1, faultStatus: 99), "from 200 to 599 (got 99)"),
        (UpstreamFaults(closeAfter: UpstreamFaults.CloseAfter(responses: 0, abrupt: false)), "close-after must be at least 1 response"),
    ])
    func badFaultsAreRejectedWithTheRange(faults: UpstreamFaults, expected: String) async throws {
        do {
            try UpstreamConfiguration(faults: faults).validate()
            Issue.record("accepted \(faults)")
        } catch let error as LabError {
            #expect(error.kind == .badInput)
            #expect(error.message.contains(expected), "\(error.message)")
        }
        // start() validates too, before it binds anything.
        await #expect(throws: LabError.self) { try await UpstreamServer(configuration: UpstreamConfiguration(faults: faults)).start() }
    }

    @Test func goodFaultsValidate() throws {
        try UpstreamConfiguration(faults: .none).validate()
        try UpstreamConfiguration(
            faults: UpstreamFaults(resetFraction: 0.2, stallFraction: 0.3, statusFraction: 0.5, faultStatus: 429,
                                   closeAfter: UpstreamFaults.CloseAfter(responses: 1, abrupt: true))
        ).validate()
    }

    // MARK: Draws

    @Test func drawsDependOnlyOnSeedAndArrival() {
        let faults = UpstreamFaults(resetFraction: 0.1, stallFraction: 0.1, statusFraction: 0.1, seed: 42)
        let first = (0..<2_000).map { FaultDraws.fault(forArrival: UInt64($0), faults: faults) }
        let again = (0..<2_000).map { FaultDraws.fault(forArrival: UInt64($0), faults: faults) }
        #expect(first == again)
        var other = faults
        other.seed = 43
        #expect((0..<2_000).map { FaultDraws.fault(forArrival: UInt64($0), faults: other) } != first)

        // The server's shared sequence hands out exactly the pure function's values, in order.
        let draws = FaultDraws(faults: faults)
        #expect((0..<2_000).map { _ in draws.next() } == first)
        // A server without per-request faults never draws.
        #expect(FaultDraws(faults: UpstreamFaults(closeAfter: UpstreamFaults.CloseAfter(responses: 3, abrupt: false))).next() == .none)
    }

    /// The share of each fault over many arrivals is near the one asked for. The seed is fixed, so this checks the
    /// mapping from draw to fault (a fraction wired to the wrong bucket or off by a factor), not luck.
    @Test func drawsInjectEachFaultAtItsFraction() {
        let faults = UpstreamFaults(resetFraction: 0.1, stallFraction: 0.2, statusFraction: 0.3, faultStatus: 502)
        var counts: [RequestFault: Int] = [:]
        let n = 20_000
        for i in 0..<n { counts[FaultDraws.fault(forArrival: UInt64(i), faults: faults), default: 0] += 1 }
        func share(_ f: RequestFault) -> Double { Double(counts[f] ?? 0) / Double(n) }
        #expect(abs(share(.reset) - 0.1) < 0.02)
        #expect(abs(share(.stall) - 0.2) < 0.02)
        #expect(abs(share(.status(502)) - 0.3) < 0.02)
        #expect(abs(share(.none) - 0.4) < 0.02)
        #expect(counts.count == 4)
    }

    // MARK: HTTP/1.1 against a raw socket

    @Test func resetFractionOneAnswersEveryRequestWithAnRST() async throws {
        try await withUpstreamServer(configuration(UpstreamFaults(resetFraction: 1))) { server, port in
            for _ in 0..<3 {
                let outcome = try await BlockingExchange.run(port: port, request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(outcome.end == .reset, "\(outcome)")
                #expect(outcome.received.isEmpty)
            }
            #expect(server.stats.injectedResets == 3)
            #expect(server.stats.requestsServed == 0)
        }
    }

    /// Each request on its own connection: the ones the seed picks are reset, the others answered, in arrival order.
    @Test func resetsHitTheArrivalsTheSeedPicks() async throws {
        let faults = UpstreamFaults(resetFraction: 0.5, seed: 7)
        let expected = (0..<16).map { FaultDraws.fault(forArrival: UInt64($0), faults: faults) }
        #expect(expected.contains(.reset) && expected.contains(.none), "the seed should give both outcomes")
        try await withUpstreamServer(configuration(faults)) { server, port in
            for (i, fault) in expected.enumerated() {
                let outcome = try await BlockingExchange.run(
                    port: port, request: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if fault == .reset {
                    #expect(outcome.end == .reset && outcome.received.isEmpty, "arrival \(i): \(outcome)")
                } else {
                    #expect(outcome.end == .closed, "arrival \(i): \(outcome)")
                    #expect(outcome.text.hasPrefix("HTTP/1.1 200 OK"), "arrival \(i): \(outcome)")
                }
            }
            let resets = expected.filter { $0 == .reset }.count
            #expect(server.stats.injectedResets == resets)
            #expect(server.stats.requestsServed == expected.count - resets)
        }
    }

    @Test func aStalledRequestGetsNoAnswerAndItsConnectionStaysOpen() async throws {
        try await withUpstreamServer(configuration(UpstreamFaults(stallFraction: 1))) { server, port in
            let outcome = try await BlockingExchange.run(
                port: port, request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", quietFor: 0.3)
            #expect(outcome.end == .stillOpen, "\(outcome)")
            #expect(outcome.received.isEmpty)
            #expect(server.stats.injectedStalls == 1)
            #expect(server.stats.requestsServed == 0)
        }
    }

    @Test func statusFaultsAnswerAtOnceWithTheirStatus() async throws {
        let faults = seed(
            giving: [.status(503), .none, .status(503), .none],
            with: UpstreamFaults(statusFraction: 0.5, faultStatus: 503))
        try await withUpstreamServer(configuration(faults, responseSize: 7)) { server, port in
            let connection = try await HTTP1TestConnection.connect(port: port)
            let statuses = try await [0, 1, 2, 3].asyncMap { _ in try await connection.request(.GET, "/?delay=5ms") }
            #expect(statuses.map(\.status.code) == [503, 200, 503, 200])
            #expect(statuses[0].text.contains("injected fault"))
            #expect(statuses[1].body.readableBytes == 7)
            #expect(connection.channel.isActive, "a status fault keeps the connection")
            await connection.close()
            #expect(server.stats.injectedStatuses == 2)
            #expect(server.stats.rejectedRequests == 0, "an injected status is not a rejected request")
            #expect(server.stats.requestsServed == 4)
        }
    }

    @Test func closeAfterAnnouncesTheLastResponseAndCloses() async throws {
        let faults = UpstreamFaults(closeAfter: UpstreamFaults.CloseAfter(responses: 3, abrupt: false))
        try await withUpstreamServer(configuration(faults)) { server, port in
            let connection = try await HTTP1TestConnection.connect(port: port)
            var headers: [String?] = []
            for _ in 0..<3 {
                let response = try await connection.request(.GET, "/")
                #expect(response.status.code == 200)
                headers.append(response.headers.first(name: "connection"))
            }
            #expect(headers == [nil, nil, "close"])
            try await waitForClose(connection.channel)
            #expect(server.stats.connectionsClosedAfterLimit == 1)
            #expect(server.stats.requestsServed == 3)

            // A new connection starts counting again.
            let next = try await HTTP1TestConnection.connect(port: port)
            #expect(try await next.request(.GET, "/").headers.first(name: "connection") == nil)
            await next.close()
        }
    }

    @Test func closeAfterAbruptClosesWithoutSayingSo() async throws {
        let faults = UpstreamFaults(closeAfter: UpstreamFaults.CloseAfter(responses: 2, abrupt: true))
        try await withUpstreamServer(configuration(faults)) { server, port in
            let connection = try await HTTP1TestConnection.connect(port: port)
            let first = try await connection.request(.GET, "/")
            let second = try await connection.request(.GET, "/")
            #expect(first.status.code == 200 && second.status.code == 200)
            #expect(first.headers.first(name: "connection") == nil)
            #expect(second.headers.first(name: "connection") == nil, "the close is not announced")
            try await waitForClose(connection.channel)
            #expect(server.stats.connectionsClosedAfterLimit == 1)
            // Only that connection: the server still accepts new ones.
            #expect(try await http1Request(port: port, .GET, "/").status.code == 200)
        }
    }

    // MARK: HTTP/2

    /// On HTTP/2 a reset resets the TCP connection: the picked request fails and the connection is gone; a new
    /// connection is served.
    @Test func http2ResetsTheConnection() async throws {
        let faults = seed(giving: [.none, .reset, .none], with: UpstreamFaults(resetFraction: 0.4))
        try await withUpstreamServer(configuration(faults)) { server, port in
            let connection = try await HTTP2TestConnection.connect(port: port)
            #expect(try await connection.request(.GET, "/").status.code == 200)
            await #expect(throws: (any Error).self) { try await connection.request(.GET, "/") }
            try await waitForClose(connection.channel)
            let next = try await HTTP2TestConnection.connect(port: port)
            #expect(try await next.request(.GET, "/").status.code == 200)
            await next.close()
            #expect(server.stats.injectedResets == 1)
            #expect(server.stats.http2Connections == 2)
        }
    }

    @Test func http2StallLeavesTheOtherStreamsServed() async throws {
        let faults = seed(giving: [.stall, .none, .none], with: UpstreamFaults(stallFraction: 0.5))
        try await withUpstreamServer(configuration(faults)) { server, port in
            let connection = try await HTTP2TestConnection.connect(port: port)
            let stalled = Task { try await connection.request(.GET, "/") }
            #expect(await eventually { server.stats.injectedStalls == 1 })
            #expect(try await connection.request(.GET, "/").status.code == 200)
            #expect(try await connection.request(.GET, "/").status.code == 200)
            #expect(server.stats.requestsServed == 2)
            await connection.close()
            await #expect(throws: (any Error).self) { try await stalled.value }
        }
    }

    @Test(arguments: [false, true])
    func http2CloseAfterEndsTheConnection(abrupt: Bool) async throws {
        let faults = UpstreamFaults(closeAfter: UpstreamFaults.CloseAfter(responses: 2, abrupt: abrupt))
        try await withUpstreamServer(configuration(faults)) { server, port in
            let connection = try await HTTP2TestConnection.connect(port: port)
            #expect(try await connection.request(.GET, "/").status.code == 200)
            #expect(try await connection.request(.GET, "/").status.code == 200)
            try await waitForClose(connection.channel)
            #expect(server.stats.connectionsClosedAfterLimit == 1)
        }
    }
}

extension Array {
    /// `map` for async bodies, in order, one at a time.
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}

/// One request over a plain blocking socket, to see exactly how the server ended it: NIO clients turn an RST and an
/// orderly close into the same "channel closed", this tells them apart.
struct BlockingExchange: CustomStringConvertible {
    enum End: Equatable {
        /// recv failed with ECONNRESET: the server sent RST.
        case reset
        /// recv returned 0: the server closed in order (FIN).
        case closed
        /// Nothing arrived for `quietFor` seconds and the connection is still open.
        case stillOpen
        /// Any other failure, with its errno.
        case failed(Int32)
    }

    var received: [UInt8]
    var end: End

    var text: String { String(decoding: received, as: UTF8.self) }
    var description: String { "\(end) after \(received.count) bytes: \(text.prefix(80).debugDescription)" }

    /// Runs on its own thread so the blocking calls never hold one of Swift's few cooperative threads.
    static func run(port: Int, request: String, quietFor: Double = 5) async throws -> BlockingExchange {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try exchange(port: port, request: request, quietFor: quietFor) })
            }.start()
        }
    }

    private static func exchange(port: Int, request: String, quietFor: Double) throws -> BlockingExchange {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: Int(quietFor), tv_usec: Int((quietFor - Double(Int(quietFor))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED) }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                received += buffer[0..<n]
                continue
            }
            if n == 0 { return BlockingExchange(received: received, end: .closed) }
            switch errno {
            case ECONNRESET: return BlockingExchange(received: received, end: .reset)
            case EAGAIN, EWOULDBLOCK: return BlockingExchange(received: received, end: .stillOpen)
            case EINTR: continue
            case let other: return BlockingExchange(received: received, end: .failed(other))
            }
        }
    }
}
