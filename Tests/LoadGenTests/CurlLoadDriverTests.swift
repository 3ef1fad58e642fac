import Foundation
import LabCore
import Testing
import Upstream

@testable import LoadGen

/// End-to-end: the libcurl driver against the lab's own upstream server and against misbehaving sockets, all on
/// loopback, each bounded to a few seconds. No timing thresholds: counts, classes and bytes only.
@Suite(.serialized)
struct CurlLoadDriverTests {
    func withServer(responseSize: Int = 1024, _ body: (Int) throws -> Void) async throws {
        let server = UpstreamServer(configuration: UpstreamConfiguration(responseSize: responseSize))
        let port = try await server.start()
        do {
            try body(port)
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }

    func run(_ url: String, qps: String = "max", connections: Int = 2, duration: String? = nil, requests: Int? = nil,
             http2: Bool = false, streams: Int = 1, method: String = "GET", bodySize: String = "0",
             timeout: String = "2s") throws -> LoadResult {
        let settings = try loadSettings(
            url: url, qps: qps, connections: connections, duration: duration, requests: requests, http2: http2,
            streams: streams, method: method, bodySize: bodySize, headers: ["x-test: 1"], warmup: "0s",
            timeout: timeout, allowRemote: false)
        return try CurlLoadDriver(request: settings.request, plan: settings.plan).run()
    }

    @Test func openLoopAgainstTheUpstreamServer() async throws {
        try await withServer { port in
            let r = try run("http://127.0.0.1:\(port)/", qps: "200", connections: 4, duration: "1s")
            #expect(r.requests == 200)
            #expect(r.ok == 200 && r.errors == 0)
            #expect(r.statusCodes == ["200": 200])
            #expect(r.bytesReceived == 200 * 1024)
            #expect(r.latencyUs.count == 200 && r.latencyUncorrectedUs.count == 200)
            #expect(r.latencyUs.p50 >= r.latencyUncorrectedUs.p50, "corrected latency includes the send delay")
            #expect(r.mode == "open" && r.requestedQPS == "200")
            #expect(r.sendLatenessUs?.count == 200)
        }
    }

    @Test func threadsShareTheScheduleAndTheConnections() async throws {
        try await withServer { port in
            let settings = try loadSettings(
                url: "http://127.0.0.1:\(port)/", qps: "300", connections: 4, duration: "1s", requests: nil,
                http2: false, streams: 1, method: "GET", bodySize: "0", headers: [], warmup: "0s", timeout: "2s",
                allowRemote: false)
            let r = try LoadRunner.run(request: settings.request, plan: settings.plan, threads: 2)
            #expect(r.requests == 300 && r.ok == 300)
            #expect(r.threads == 2 && r.connections == 4)
            #expect(r.latencyUs.count == 300)
            #expect((r.loadgenCPU?.wallSeconds ?? 0) > 0.9)
        }
    }

    @Test func closedLoopRequestCountIsExact() async throws {
        try await withServer { port in
            let r = try run("http://127.0.0.1:\(port)/", connections: 3, requests: 500)
            #expect(r.requests == 500 && r.ok == 500)
            #expect(r.connectionsOpened == 3, "one connection per slot, kept alive")
            #expect(r.mode == "closed")
        }
    }

    @Test func http2MultiplexesStreamsOnFewConnections() async throws {
        try await withServer { port in
            let r = try run("http://127.0.0.1:\(port)/", connections: 2, requests: 400, http2: true, streams: 4)
            #expect(r.requests == 400 && r.ok == 400, "\(r.errorSamples ?? [:])")
            #expect(r.protocolName == "h2")
            #expect(r.connectionsOpened == 2)
        }
    }

    @Test func postedBodiesAreEchoed() async throws {
        try await withServer { port in
            let r = try run("http://127.0.0.1:\(port)/echo", connections: 2, requests: 50, method: "POST",
                            bodySize: "2k")
            #expect(r.ok == 50)
            #expect(r.bytesSent == 50 * 2048)
            #expect(r.bytesReceived == 50 * 2048)
        }
    }

    @Test func httpErrorStatusesAreCountedAsHTTPErrors() async throws {
        try await withServer { port in
            let r = try run("http://127.0.0.1:\(port)/?status=503", connections: 2, requests: 40)
            #expect(r.requests == 40 && r.ok == 0)
            #expect(r.errorClasses["http"] == 40)
            #expect(r.statusCodes["503"] == 40)
        }
    }

    @Test func anUnreachableTargetIsAConnectError() throws {
        // Bind a port and close it again: nothing listens there.
        let probe = try MisbehavingServer(mode: .closeImmediately)
        let port = probe.port
        probe.stop()
        let r = try run("http://127.0.0.1:\(port)/", qps: "50", connections: 2, duration: "500ms")
        #expect(r.requests == 25)
        #expect(r.errorClasses["connect"] == 25)
        #expect(r.requests == r.ok + r.errors)
    }

    @Test func aServerThatClosesConnectionsIsAReset() throws {
        let server = try MisbehavingServer(mode: .closeImmediately)
        defer { server.stop() }
        let r = try run("http://127.0.0.1:\(server.port)/", connections: 2, requests: 20)
        #expect(r.requests == 20 && r.ok == 0)
        #expect(r.errorClasses["reset"] == 20, "\(r.errorClasses) \(r.errorSamples ?? [:])")
    }

    @Test func garbageAnswersAreProtocolErrors() throws {
        let server = try MisbehavingServer(mode: .garbage)
        defer { server.stop() }
        let r = try run("http://127.0.0.1:\(server.port)/", connections: 2, requests: 20)
        #expect(r.requests == 20 && r.ok == 0)
        #expect(r.errorClasses["protocol"] == 20, "\(r.errorClasses) \(r.errorSamples ?? [:])")
    }

    /// A server that accepts and never answers: every request times out or is never sent, the run still ends, and
    /// every scheduled request is accounted for.
    @Test func aSilentServerTimesOutAndTheRunEnds() throws {
        let server = try MisbehavingServer(mode: .silent)
        defer { server.stop() }
        let r = try run("http://127.0.0.1:\(server.port)/", qps: "20", connections: 2, duration: "1s",
                        timeout: "300ms")
        #expect(r.requests == 20)
        #expect(r.ok == 0)
        #expect((r.errorClasses["timeout"] ?? 0) > 0)
        #expect((r.errorClasses["timeout"] ?? 0) + (r.errorClasses["not_sent"] ?? 0) == 20)
    }
}

struct LoadSettingsTests {
    func settings(url: String = "http://127.0.0.1:8080/", qps: String = "100", connections: Int = 4,
                  duration: String? = "1s", requests: Int? = nil, http2: Bool = false, streams: Int = 1,
                  method: String = "GET", bodySize: String = "0", headers: [String] = [], warmup: String = "0s",
                  timeout: String = "3s", allowRemote: Bool = false) throws -> LoadSettings {
        try loadSettings(url: url, qps: qps, connections: connections, duration: duration, requests: requests,
                         http2: http2, streams: streams, method: method, bodySize: bodySize, headers: headers,
                         warmup: warmup, timeout: timeout, allowRemote: allowRemote)
    }

    func message(_ body: () throws -> LoadSettings) -> String? {
        do {
            _ = try body()
            return nil
        } catch let e as LabError {
            #expect(e.kind == .badInput)
            return e.message
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        ("not a url", "not a valid URL"), ("ftp://127.0.0.1/", "not a valid URL"), ("http://", "not a valid URL"),
        ("127.0.0.1:8080", "not a valid URL"), ("http://10.0.0.1/", "not a loopback address"),
        ("http://example.com/", "not a loopback address"),
    ])
    func badURLsAreRejectedWithAReason(url: String, expected: String) {
        let m = message { try settings(url: url) }
        #expect(m?.contains(expected) == true, "\(m ?? "accepted")")
    }

    @Test func badNumbersAreRejected() {
        #expect(message { try settings(qps: "-5") }.map { $0.contains("--qps") && $0.contains("must be a positive number") } == true)
        #expect(message { try settings(qps: "0") }?.contains("--qps") == true)
        #expect(message { try settings(qps: "lots") }?.contains("\"max\"") == true)
        #expect(message { try settings(connections: 0) }?.contains("--connections") == true)
        #expect(message { try settings(duration: "10") }?.contains("--duration") == true)
        #expect(message { try settings(duration: "1s", requests: 5) }?.contains("not both") == true)
        #expect(message { try settings(duration: nil, requests: 0) }?.contains("--requests") == true)
        #expect(message { try settings(streams: 4) }?.contains("needs --http2") == true)
        #expect(message { try settings(method: "BREW") }?.contains("--method") == true)
        #expect(message { try settings(bodySize: "1x") }?.contains("--body-size") == true)
        #expect(message { try settings(headers: ["no colon"]) }?.contains("--header") == true)
        #expect(message { try settings(timeout: "0s") }?.contains("--timeout") == true)
    }

    @Test func goodSettingsBuildThePlan() throws {
        let s = try settings(qps: "max", connections: 4, duration: nil, requests: 100, http2: true, streams: 8,
                             method: "post", bodySize: "1k")
        #expect(s.plan.rate == .closedLoop)
        #expect(s.plan.stop == .requests(100))
        #expect(s.plan.concurrency == 32)
        #expect(s.request.method == "POST" && s.request.body.count == 1024)
        let remote = try settings(url: "http://10.1.2.3/", allowRemote: true)
        #expect(remote.request.url == "http://10.1.2.3/")
        #expect(try settings(duration: nil).plan.stop == .duration(.seconds(10)), "10s when neither is given")
    }
}
