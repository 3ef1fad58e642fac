import LabTestSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTP2
import Testing

import LabHTTP

@testable import Upstream

/// The sniffer in an EmbeddedChannel: every byte boundary is under the test's control, as loopback TCP's is not.
@Suite("Protocol sniffing in the upstream pipeline")
struct UpstreamSniffingTests {
    static let preface = ProtocolSniffer.http2Preface

    func makeChannel() throws -> (EmbeddedChannel, UpstreamStatsRecorder) {
        let stats = UpstreamStatsRecorder()
        let resources = UpstreamResources(
            configuration: UpstreamConfiguration(responseSize: 10),
            payload: ResponsePayload(defaultSize: 10),
            stats: stats
        )
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(UpstreamPipeline.sniffer(resources: resources))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, stats)
    }

    func readAllOutbound(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readableBytesView
        }
        return bytes
    }

    @Test func prefaceSplitAcrossReadsBecomesHTTP2() throws {
        let (channel, stats) = try makeChannel()
        defer { _ = try? channel.finish() }

        try channel.writeInbound(ByteBuffer(bytes: Self.preface[0..<3]))
        try channel.writeInbound(ByteBuffer(bytes: Self.preface[3..<20]))
        // Still a prefix of the preface: nothing decided, nothing answered.
        #expect(try readAllOutbound(channel).isEmpty)
        #expect(stats.snapshot.http1Connections == 0 && stats.snapshot.http2Connections == 0)
        #expect(throws: Never.self) { try channel.pipeline.syncOperations.handler(type: ProtocolSniffer.self) }

        // The rest of the preface and an empty SETTINGS frame.
        try channel.writeInbound(ByteBuffer(bytes: Self.preface[20...] + [0, 0, 0, 4, 0, 0, 0, 0, 0]))
        channel.pipeline.fireChannelReadComplete()
        #expect(stats.snapshot.http2Connections == 1)
        #expect(throws: Never.self) { try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self) }
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.handler(type: ProtocolSniffer.self) }

        // The server's first frame is its SETTINGS frame (type 4 at byte offset 3).
        let out = try readAllOutbound(channel)
        #expect(out.count >= 9)
        #expect(out.count >= 9 && out[3] == 4)
    }

    @Test func requestSplitAcrossReadsIsServedAsHTTP1() throws {
        let (channel, stats) = try makeChannel()
        defer { _ = try? channel.finish() }

        try channel.writeInbound(ByteBuffer(string: "G"))
        try channel.writeInbound(ByteBuffer(string: "ET /?size=4 HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(stats.snapshot.http1Connections == 1)

        let response = String(decoding: try readAllOutbound(channel), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(response.lowercased().contains("content-length: 4\r\n"))
        #expect(response.hasSuffix("\r\n\r\nmesh"))
        #expect(stats.snapshot.requestsServed == 1)
    }

    @Test func pRIWithoutTheHTTP2VersionIsHTTP1() throws {
        let (channel, stats) = try makeChannel()
        defer { _ = try? channel.finish() }

        _ = try? channel.writeInbound(ByteBuffer(string: "PRI * HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(stats.snapshot.http1Connections == 1)
        #expect(stats.snapshot.http2Connections == 0)
    }

    @Test func closingBeforeTheDecisionIsHarmless() throws {
        let (channel, stats) = try makeChannel()
        try channel.writeInbound(ByteBuffer(bytes: Self.preface[0..<10]))
        _ = try channel.finish()
        #expect(stats.snapshot.http1Connections == 0 && stats.snapshot.http2Connections == 0)
    }

    @Test func quiescingAnUndecidedConnectionClosesIt() throws {
        let (channel, _) = try makeChannel()
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!channel.isActive)
    }
}
