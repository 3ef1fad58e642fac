import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTP2
import Testing

@testable import LabHTTP

/// The sniffer in an EmbeddedChannel: every byte boundary is under the test's control, as loopback TCP's is not.
@Suite("Protocol sniffing")
struct ProtocolSnifferTests {
    static let preface = ProtocolSniffer.http2Preface

    @Test func verdicts() {
        func verdict(_ bytes: [UInt8]) -> ProtocolSniffer.Verdict {
            ProtocolSniffer.verdict(for: ByteBuffer(bytes: bytes))
        }
        #expect(verdict([]) == .undecided)
        #expect(verdict(Array(Self.preface.prefix(1))) == .undecided)
        #expect(verdict(Array(Self.preface.prefix(23))) == .undecided)
        #expect(verdict(Self.preface) == .decided(.http2))
        #expect(verdict(Self.preface + [0, 0, 0]) == .decided(.http2))
        #expect(verdict(Array("GET / HTTP/1.1\r\n".utf8)) == .decided(.http1))
        #expect(verdict(Array("PRI * HTTP/1.1\r\n".utf8)) == .decided(.http1))
        #expect(verdict(Array("PRX".utf8)) == .decided(.http1))
    }

}
