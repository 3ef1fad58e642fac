import Foundation
import LabCore
import LabTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Sidecar
import Testing
import Upstream

// MARK: - Deterministic randomness

// MARK: - The corpus

/// One input thrown at the proxy: the bytes a client writes on a fresh connection.
struct FuzzCase: Sendable, CustomStringConvertible {
    enum WireProtocol: String, Sendable {
        case http1, http2
    }

    let id: Int
    let wire: WireProtocol
    /// Which generator made it, for the outcome table and for finding it again.
    let family: String
    let bytes: [UInt8]
    /// A well-formed request (possibly after frames the protocol says to ignore) that must be answered 200.
    let mustSucceed: Bool

    var description: String {
        let shown = bytes.prefix(48).map { b -> String in
            (32..<127).contains(b) ? String(UnicodeScalar(b)) : String(format: "\\x%02x", b)
        }.joined()
        return "case \(id) [\(wire.rawValue)/\(family)] \(bytes.count) bytes: \(shown)\(bytes.count > 48 ? "…" : "")"
    }
}

/// Generates malformed HTTP/1.1 requests: mutations of valid ones and hand-picked classes of framing attacks.
enum HTTP1Corpus {
    static let families = [
        "valid", "bit-flip", "truncate", "random-bytes", "header-name", "chunked", "cl-te", "bare-lf", "nul-byte",
        "long-line", "pipelined-garbage", "header-count", "syntax",
    ]

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// A valid request, sometimes with a body (Content-Length or chunked).
    static func validRequest(_ rng: inout SplitMix64) -> [UInt8] {
        switch rng.next() % 4 {
        case 0: return bytes("GET /?size=\(rng.next() % 2048) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n")
        case 1:
            let body = String(repeating: "b", count: Int(rng.next() % 300))
            return bytes("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.utf8.count)\r\n"
                         + "Content-Type: text/plain\r\n\r\n\(body)")
        case 2:
            return bytes("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        default:
            return bytes("HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fuzz\r\nX-Trace: 1\r\n\r\n")
        }
    }

    /// The request the position classes of `truncate` refer to.
    static let landmarkRequest = "POST /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n"
        + "X-Long-Header-Name: some value\r\n\r\nhello world"

    /// Cut points by where they fall: in the method, the target, the version, between CR and LF, in a header name,
    /// in a header value, just before the blank line, in the body.
    static func truncationPoint(_ rng: inout SplitMix64) -> Int {
        let text = Array(landmarkRequest.utf8)
        func index(of needle: String, from start: Int = 0) -> Int {
            let n = Array(needle.utf8)
            var i = start
            while i + n.count <= text.count {
                if Array(text[i..<(i + n.count)]) == n { return i }
                i += 1
            }
            return text.count
        }
        let firstSpace = index(of: " ")
        let version = index(of: "HTTP/1.1")
        let firstCRLF = index(of: "\r\n")
        let headerValue = index(of: ": 127")
        let blank = index(of: "\r\n\r\n")
        let classes: [ClosedRange<Int>] = [
            1...max(1, firstSpace),                  // method
            (firstSpace + 1)...max(firstSpace + 1, version - 1), // request target
            version...max(version, firstCRLF - 1),   // version
            (firstCRLF + 1)...(firstCRLF + 1),       // between CR and LF
            (firstCRLF + 2)...max(firstCRLF + 2, headerValue), // header name
            (headerValue + 2)...max(headerValue + 2, headerValue + 8), // header value
            blank...(blank + 3),                     // inside the blank line
            (blank + 4)...(text.count - 1),          // body
        ]
        let range = classes[Int(rng.next() % UInt64(classes.count))]
        return Int.random(in: range, using: &rng)
    }

    static func randomBytes(_ count: Int, _ rng: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    static func make(id: Int, seed: UInt64) -> FuzzCase {
        var rng = SplitMix64(seed: seed &+ UInt64(id) &* 0x1000_0001)
        let family = families[id % families.count]
        var mustSucceed = false
        let out: [UInt8]
        switch family {
        case "valid":
            out = validRequest(&rng)
            mustSucceed = true
        case "bit-flip":
            var request = validRequest(&rng)
            for _ in 0..<(1 + rng.next() % 8) {
                let i = Int(rng.next() % UInt64(request.count))
                request[i] ^= UInt8(1 << (rng.next() % 8))
            }
            out = request
        case "truncate":
            out = Array(Array(landmarkRequest.utf8).prefix(truncationPoint(&rng)))
        case "random-bytes":
            out = randomBytes(1 + Int(rng.next() % 2048), &rng)
        case "header-name":
            let names = [
                String(repeating: "a", count: 70_000), "Bad Header", "Bad\u{7f}Name", ":authority", "", "naïve",
                "X-\u{0}-Null", "X\tTab", "(comment)", "X-\u{1}", String(repeating: "x", count: 8192) + ":",
            ]
            let name = names[Int(rng.next() % UInt64(names.count))]
            out = bytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\(name): value\r\n\r\n")
        case "chunked":
            let bodies = [
                "zz\r\nhello\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n", "ffffffffffffffffffff\r\nx\r\n0\r\n\r\n",
                "5\r\nhelloXX0\r\n\r\n", "5;ext=\u{0}\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n", "5\r\nhel",
                "0\r\nTrailer\u{1}: x\r\n\r\n", "5 \r\nhello\r\n0\r\n\r\n", "\r\n\r\n", "0x5\r\nhello\r\n0\r\n\r\n",
                "5\nhello\n0\n\n", "3\r\nabcdef\r\n0\r\n\r\n",
            ]
            let body = bodies[Int(rng.next() % UInt64(bodies.count))]
            out = bytes("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n\(body)")
        case "cl-te":
            let heads = [
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                "Content-Length: 5\r\nContent-Length: 6\r\n",
                "Content-Length: 5, 6\r\n",
                "Transfer-Encoding: chunked, identity\r\n",
                "Transfer-Encoding: xchunked\r\n",
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "Content-Length: -1\r\n",
                "Content-Length: 1e3\r\n",
                "Content-Length: 99999999999999999999999\r\n",
                "Content-Length: +5\r\n",
                "Transfer-Encoding : chunked\r\n",
                "Transfer-Encoding:\tchunked\r\nContent-Length: 0\r\n",
            ]
            let head = heads[Int(rng.next() % UInt64(heads.count))]
            out = bytes("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\(head)\r\n5\r\nhello\r\n0\r\n\r\n")
        case "bare-lf":
            var text = String(decoding: validRequest(&rng), as: UTF8.self)
            switch rng.next() % 3 {
            case 0: text = text.replacingOccurrences(of: "\r\n", with: "\n")
            case 1: text = text.replacingOccurrences(of: "\r\n", with: "\r")
            default:
                if let r = text.range(of: "\r\n") { text.replaceSubrange(r, with: "\n") }
            }
            out = bytes(text)
        case "nul-byte":
            var request = validRequest(&rng)
            request.insert(0, at: Int(rng.next() % UInt64(request.count)))
            out = request
        case "long-line":
            let length = 8_192 + Int(rng.next() % 200_000)
            switch rng.next() % 3 {
            case 0: out = bytes("GET /\(String(repeating: "a", count: length)) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            case 1: out = bytes("\(String(repeating: "G", count: length)) / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            default: out = bytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "v", count: length))\r\n\r\n")
            }
        case "pipelined-garbage":
            out = bytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") + randomBytes(1 + Int(rng.next() % 512), &rng)
        case "header-count":
            let count = 500 + Int(rng.next() % 12_000)
            var text = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            for i in 0..<count { text += "X-\(i): v\r\n" }
            out = bytes(text + "\r\n")
        default: // syntax
            let requests = [
                "GET / HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
                "GET / HTTP/1.1x\r\nHost: 127.0.0.1\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Folded: a\r\n b\r\n\r\n",
                "GET / HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n",
                "GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                    + "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
                "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
                "GET / HTTP/1.0\r\n\r\n",
                "get / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET  /  HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "\r\n\r\nGET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "GET / HTTP/1.1\r\n\r\n",
                "GET /%00%ff%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
            ]
            out = bytes(requests[Int(rng.next() % UInt64(requests.count))])
        }
        return FuzzCase(id: id, wire: .http1, family: family, bytes: out, mustSucceed: mustSucceed)
    }
}

/// Generates HTTP/2 (h2c, prior knowledge) inputs: a valid connection preface followed by malformed frames, and
/// mutations of the preface itself.
enum HTTP2Corpus {
    static let families = [
        "valid", "preface", "frame-length", "unknown-type", "stream-id", "settings", "hpack", "continuation",
        "window-update", "rst-stream", "after-goaway", "ping", "priority", "push-promise", "data", "random-frames",
        "mutated-valid",
    ]

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum FrameType: UInt8 {
        case data = 0, headers = 1, priority = 2, rstStream = 3, settings = 4, pushPromise = 5, ping = 6, goAway = 7,
             windowUpdate = 8, continuation = 9
    }

    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = [],
                      length: Int? = nil) -> [UInt8] {
        let n = length ?? payload.count
        return [UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n),
                type, flags,
                UInt8(truncatingIfNeeded: stream >> 24), UInt8(truncatingIfNeeded: stream >> 16),
                UInt8(truncatingIfNeeded: stream >> 8), UInt8(truncatingIfNeeded: stream)] + payload
    }

    static func frame(_ type: FrameType, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = [],
                      length: Int? = nil) -> [UInt8] {
        frame(type.rawValue, flags: flags, stream: stream, payload, length: length)
    }

    static func u32(_ v: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8),
         UInt8(truncatingIfNeeded: v)]
    }

    static func setting(_ id: UInt16, _ value: UInt32) -> [UInt8] {
        [UInt8(id >> 8), UInt8(id & 0xFF)] + u32(value)
    }

    static let endStream: UInt8 = 0x1
    static let endHeaders: UInt8 = 0x4
    static let ack: UInt8 = 0x1

    /// HPACK for `GET /` with `:authority 127.0.0.1`, from the static table: a request any server must accept.
    static let getBlock: [UInt8] = [0x82, 0x86, 0x84, 0x41, 0x09] + Array("127.0.0.1".utf8)
    /// `POST /echo`.
    static let postBlock: [UInt8] = [0x83, 0x86, 0x44, 0x05] + Array("/echo".utf8) + [0x41, 0x09]
        + Array("127.0.0.1".utf8)

    /// The client's side of a connection start: preface and an empty SETTINGS.
    static let opening = preface + frame(.settings)

    static func validGet(stream: UInt32 = 1) -> [UInt8] {
        frame(.headers, flags: endStream | endHeaders, stream: stream, getBlock)
    }

    static func make(id: Int, seed: UInt64) -> FuzzCase {
        var rng = SplitMix64(seed: seed &+ UInt64(id) &* 0x2000_0003)
        let family = families[id % families.count]
        func pick<T>(_ choices: [T]) -> T { choices[Int(rng.next() % UInt64(choices.count))] }
        func random(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        var mustSucceed = false
        var out = opening
        switch family {
        case "valid":
            out += pick([validGet(), frame(.headers, flags: endHeaders, stream: 1, postBlock)
                + frame(.data, flags: endStream, stream: 1, Array("fuzz".utf8))])
            mustSucceed = true
        case "preface":
            switch rng.next() % 4 {
            case 0: out = Array(preface.prefix(1 + Int(rng.next() % UInt64(preface.count - 1))))
            case 1:
                var p = preface
                let i = Int(rng.next() % UInt64(p.count))
                p[i] ^= UInt8(1 << (rng.next() % 8))
                out = p + frame(.settings) + validGet()
            case 2: out = preface + random(1 + Int(rng.next() % 64))
            default: out = preface + validGet()  // a HEADERS frame where the SETTINGS must come first
            }
        case "frame-length":
            switch rng.next() % 3 {
            case 0: out += frame(.headers, flags: endStream | endHeaders, stream: 1, getBlock, length: getBlock.count + 40)
            case 1: out += frame(.data, stream: 1, random(100), length: 20_000)  // over the default max frame size
            default: out += frame(.settings, [0, 0, 0], length: 3)  // not a multiple of 6
            }
        case "unknown-type":
            // Frames of unknown types must be ignored (RFC 9113 section 4.1), so the request after them is served.
            for _ in 0..<(1 + rng.next() % 5) {
                out += frame(UInt8(0x10 + rng.next() % 0xEF), flags: UInt8(truncatingIfNeeded: rng.next()),
                             stream: UInt32(rng.next() % 8), random(Int(rng.next() % 64)))
            }
            out += validGet()
            mustSucceed = true
        case "stream-id":
            out += pick([
                frame(.headers, flags: endStream | endHeaders, stream: 0, getBlock),
                frame(.headers, flags: endStream | endHeaders, stream: 2, getBlock),
                validGet(stream: 5) + validGet(stream: 3),
                frame(.data, flags: endStream, stream: 7, random(10)),
                frame(.headers, flags: endStream | endHeaders, stream: 0x7FFF_FFFF, getBlock) + validGet(stream: 1),
                frame(.headers, flags: endStream | endHeaders, stream: 0x8000_0001, getBlock),
            ])
        case "settings":
            switch rng.next() % 8 {
            case 0: out += frame(.settings, setting(0x2, 2))                  // ENABLE_PUSH not 0 or 1
            case 1: out += frame(.settings, setting(0x4, 0x8000_0000))        // INITIAL_WINDOW_SIZE over 2^31-1
            case 2: out += frame(.settings, setting(0x5, 100))                // MAX_FRAME_SIZE under 16384
            case 3: out += frame(.settings, setting(0x5, 0x0100_0000))        // MAX_FRAME_SIZE over 2^24-1
            case 4: out += frame(.settings, stream: 1, setting(0x3, 10))      // on a stream
            case 5: out += frame(.settings, flags: ack, setting(0x3, 10))     // ACK with a payload
            case 6:
                // Unknown setting ids must be ignored.
                out += frame(.settings, setting(UInt16(0x10 + rng.next() % 0xFF00), UInt32(truncatingIfNeeded: rng.next())))
                    + validGet()
                mustSucceed = true
            default: out += frame(.settings, setting(0x1, 0xFFFF_FFFF) + setting(0x6, 0)) + validGet()
            }
        case "hpack":
            let block: [UInt8] = pick([
                random(1 + Int(rng.next() % 200)),
                [0xFF, 0xFF, 0xFF, 0xFF, 0x0F],                 // indexed, far outside both tables
                [0x3F, 0xE1, 0xFF, 0xFF, 0x0F] + getBlock,      // table size update beyond SETTINGS_HEADER_TABLE_SIZE
                [0x40, 0x7F, 0xFF, 0xFF, 0xFF, 0x0F, 0x61],     // literal name with an absurd length
                [0x40, 0x85, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x61], // huffman name that is all padding
                [0x82, 0x86],                                   // no :path or :authority
                getBlock + [0x82],                              // pseudo-header repeated
                getBlock + [0x40, 0x03] + Array("Bad".utf8) + [0x01, 0x78], // upper-case header name
                [0x40, 0x0A] + Array("connection".utf8) + [0x05] + Array("close".utf8) + getBlock,
            ])
            out += frame(.headers, flags: endStream | endHeaders, stream: 1, block)
        case "continuation":
            switch rng.next() % 4 {
            case 0:
                // A flood of CONTINUATION frames that never ends the header block.
                out += frame(.headers, stream: 1, Array(getBlock.prefix(3)))
                let count = 100 + Int(rng.next() % 5000)
                for _ in 0..<count { out += frame(.continuation, stream: 1, [0x40, 0x01, 0x61, 0x01, 0x62]) }
            case 1: out += frame(.continuation, flags: endHeaders, stream: 1, getBlock)  // no HEADERS before it
            case 2:
                out += frame(.headers, stream: 1, Array(getBlock.prefix(3)))
                    + frame(.continuation, flags: endHeaders, stream: 3, Array(getBlock.dropFirst(3)))
            default:
                out += frame(.headers, stream: 1, Array(getBlock.prefix(3)))
                    + frame(.data, stream: 1, random(8))
            }
        case "window-update":
            switch rng.next() % 4 {
            case 0: out += frame(.windowUpdate, u32(0))                                   // increment 0
            case 1: out += frame(.windowUpdate, u32(0x7FFF_FFFF)) + frame(.windowUpdate, u32(0x7FFF_FFFF))
            case 2:
                out += frame(.headers, flags: endHeaders, stream: 1, postBlock)
                    + frame(.windowUpdate, stream: 1, u32(0x7FFF_FFFF)) + frame(.windowUpdate, stream: 1, u32(0x7FFF_FFFF))
            default: out += frame(.windowUpdate, [0, 0, 1])                               // wrong length
            }
        case "rst-stream":
            switch rng.next() % 4 {
            case 0: out += frame(.rstStream, stream: 1, u32(8))         // idle stream
            case 1: out += frame(.rstStream, stream: 0, u32(8))         // the connection
            case 2: out += frame(.rstStream, stream: 1, [0, 0])         // wrong length
            default:
                // Rapid reset: open a stream and cancel it, many times over.
                for i in 0..<(200 + Int(rng.next() % 2000)) {
                    let stream = UInt32(2 * i + 1)
                    out += frame(.headers, flags: endHeaders, stream: stream, getBlock) + frame(.rstStream, stream: stream, u32(8))
                }
            }
        case "after-goaway":
            out += frame(.goAway, u32(0) + u32(0)) + validGet(stream: 1) + frame(.data, stream: 1, random(16))
        case "ping":
            switch rng.next() % 3 {
            case 0: out += frame(.ping, random(7))
            case 1: out += frame(.ping, stream: 1, random(8))
            default:
                for _ in 0..<(500 + Int(rng.next() % 5000)) { out += frame(.ping, random(8)) }
            }
        case "priority":
            out += pick([
                frame(.priority, stream: 1, u32(1) + [16]),     // depends on itself
                frame(.priority, stream: 1, [0, 0, 0]),          // wrong length
                frame(.priority, stream: 0, u32(3) + [16]),      // on the connection
                frame(.headers, flags: endStream | endHeaders | 0x20, stream: 1, u32(1) + [16] + getBlock),
            ])
        case "push-promise":
            out += frame(.pushPromise, flags: endHeaders, stream: 1, u32(2) + getBlock)
        case "data":
            switch rng.next() % 3 {
            case 0: out += frame(.data, stream: 0, random(10))
            case 1:
                // More than the initial 65535-byte window without waiting for a WINDOW_UPDATE.
                out += frame(.headers, flags: endHeaders, stream: 1, postBlock)
                for _ in 0..<6 { out += frame(.data, stream: 1, [UInt8](repeating: 0x61, count: 16_384)) }
            default: out += validGet() + frame(.data, stream: 1, random(10))  // after END_STREAM
            }
        case "random-frames":
            for _ in 0..<(1 + rng.next() % 10) {
                out += frame(UInt8(rng.next() % 12), flags: UInt8(truncatingIfNeeded: rng.next()),
                             stream: UInt32(rng.next() % 6), random(Int(rng.next() % 40)))
            }
        default: // mutated-valid
            var body = frame(.headers, flags: endHeaders, stream: 1, postBlock)
                + frame(.data, flags: endStream, stream: 1, Array("mutated".utf8))
            if rng.next() % 2 == 0 {
                for _ in 0..<(1 + rng.next() % 6) {
                    let i = Int(rng.next() % UInt64(body.count))
                    body[i] ^= UInt8(1 << (rng.next() % 8))
                }
            } else {
                body = Array(body.prefix(Int(rng.next() % UInt64(body.count))))
            }
            out += body
        }
        return FuzzCase(id: id, wire: .http2, family: family, bytes: out, mustSucceed: mustSucceed)
    }
}

// MARK: - The raw client

/// What came back for one case.
struct FuzzObservation: Sendable {
    var received: [UInt8]
    /// The proxy closed the connection (or reset it) before the case ended.
    var closedByProxy: Bool
    /// Still open with no final answer when the hang bound passed.
    var hung: Bool
    var connectFailed: Bool
}

/// Collects a connection's bytes (up to a cap) and notices its end.
final class FuzzCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    static let cap = 256 * 1024

    struct State {
        var bytes: [UInt8] = []
        var closed = false
        var lastRead = NIODeadline.now()
    }

    let state = NIOLockedValueBox(State())

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        state.withLockedValue { s in
            if s.bytes.count < Self.cap { s.bytes += buffer.readableBytesView.prefix(Self.cap - s.bytes.count) }
            s.lastRead = .now()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.withLockedValue { $0.closed = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset from the proxy: the connection is over.
        context.close(promise: nil)
    }
}

/// Reads HTTP/2 frames from what the proxy sent, as far as they are whole.
struct ReceivedFrames {
    var types: [UInt8] = []
    var goAwayErrors: [UInt32] = []
    /// First header-block byte of each HEADERS frame on stream 1 (0x88 is the static table's `:status 200`).
    var stream1HeaderBytes: [UInt8] = []
    var stream1Reset = false

    init(_ bytes: [UInt8]) {
        var i = 0
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            let type = bytes[i + 3]
            let flags = bytes[i + 4]
            let stream = (UInt32(bytes[i + 5]) << 24 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 8
                          | UInt32(bytes[i + 8])) & 0x7FFF_FFFF
            let payload = Array(bytes[min(bytes.count, i + 9)..<min(bytes.count, i + 9 + length)])
            types.append(type)
            if type == 7, payload.count >= 8 {
                goAwayErrors.append(UInt32(payload[4]) << 24 | UInt32(payload[5]) << 16 | UInt32(payload[6]) << 8
                                    | UInt32(payload[7]))
            }
            if type == 1, stream == 1 {
                var block = payload[...]
                if flags & 0x8 != 0, let pad = block.first { block = block.dropFirst().dropLast(Int(pad)) }
                if flags & 0x20 != 0 { block = block.dropFirst(5) }
                if let first = block.first { stream1HeaderBytes.append(first) }
            }
            if type == 3, stream == 1 { stream1Reset = true }
            i += 9 + length
        }
    }
}

enum FuzzClient {
    /// Sends `bytes` on a new connection and watches what comes back.
    ///
    /// The case ends when the proxy closes the connection, when an HTTP/1 answer or an HTTP/2 response has arrived
    /// and the line went quiet (the client then closes, as a client that got its answer would), or at `hangBound`.
    static func run(_ fuzzCase: FuzzCase, port: Int, hangBound: TimeAmount) async -> FuzzObservation {
        let collector = FuzzCollector()
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(collector)
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
        } catch {
            return FuzzObservation(received: [], closedByProxy: false, hung: false, connectFailed: true)
        }
        // Not awaited: the proxy may stop reading or close part-way through the bytes (that is an outcome, not an
        // error), and only the hang bound below may decide how long a case lasts.
        channel.writeAndFlush(ByteBuffer(bytes: fuzzCase.bytes), promise: nil)
        let deadline = NIODeadline.now() + hangBound
        let quiet = TimeAmount.milliseconds(40)
        var hung = false
        while true {
            let s = collector.state.withLockedValue { $0 }
            if s.closed { break }
            if NIODeadline.now() - s.lastRead > quiet, isFinalAnswer(s.bytes, wire: fuzzCase.wire) { break }
            if NIODeadline.now() > deadline {
                hung = true
                break
            }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        let closedByProxy = collector.state.withLockedValue { $0.closed }
        try? await channel.close()
        return FuzzObservation(received: collector.state.withLockedValue { $0.bytes }, closedByProxy: closedByProxy,
                               hung: hung, connectFailed: false)
    }

    /// An answer after which the client has nothing more to wait for.
    static func isFinalAnswer(_ bytes: [UInt8], wire: FuzzCase.WireProtocol) -> Bool {
        if bytes.starts(with: Array("HTTP/1.".utf8)) {
            // A final (non-1xx) status line and the end of its head.
            guard bytes.count > 12, bytes[9] != UInt8(ascii: "1") else {
                return bytes.count > 12 && hasSecondHead(bytes)
            }
            return bytes.firstRange(of: Array("\r\n\r\n".utf8)) != nil
        }
        guard wire == .http2 else { return false }
        let frames = ReceivedFrames(bytes)
        return !frames.stream1HeaderBytes.isEmpty || frames.stream1Reset
    }

    /// After an interim `HTTP/1.1 100 Continue`, whether a final head followed.
    static func hasSecondHead(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return false }
        let rest = Array(bytes[first.upperBound...])
        return rest.starts(with: Array("HTTP/1.".utf8)) && rest.count > 12 && rest[9] != UInt8(ascii: "1")
            && rest.firstRange(of: Array("\r\n\r\n".utf8)) != nil
    }

    /// The outcome class a case falls in, for the printed table.
    static func outcomeClass(_ o: FuzzObservation, wire: FuzzCase.WireProtocol) -> String {
        if o.connectFailed { return "connect failed" }
        if o.hung { return "HUNG (open, no answer)" }
        let closed = o.closedByProxy ? "closed" : "left open"
        if o.received.starts(with: Array("HTTP/1.".utf8)), o.received.count >= 12 {
            var status = String(decoding: o.received[9..<12], as: UTF8.self)
            if status.hasPrefix("1"), let first = o.received.firstRange(of: Array("\r\n\r\n".utf8)) {
                let rest = Array(o.received[first.upperBound...])
                if rest.count >= 12 { status = "\(status)+" + String(decoding: rest[9..<12], as: UTF8.self) }
            }
            return "HTTP/1.1 \(status), \(closed)"
        }
        if o.received.isEmpty { return "closed without a byte" }
        let frames = ReceivedFrames(o.received)
        if wire == .http2, frames.types.first == 4 {
            if let code = frames.goAwayErrors.first { return "h2 GOAWAY \(h2ErrorName(code)), \(closed)" }
            if frames.stream1Reset { return "h2 RST_STREAM on the request, \(closed)" }
            if frames.stream1HeaderBytes.first == 0x88 { return "h2 response 200, \(closed)" }
            if !frames.stream1HeaderBytes.isEmpty { return "h2 response (other status), \(closed)" }
            return "h2 SETTINGS only, \(closed) (idle timeout)"
        }
        return "other bytes, \(closed)"
    }

    static func h2ErrorName(_ code: UInt32) -> String {
        let names = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
                     "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
                     "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
        return Int(code) < names.count ? names[Int(code)] : "error \(code)"
    }

    /// Whether a case that had to succeed did: an HTTP/1 200 or an HTTP/2 `:status 200` on stream 1.
    static func succeeded(_ o: FuzzObservation, wire: FuzzCase.WireProtocol) -> Bool {
        switch wire {
        case .http1: return o.received.starts(with: Array("HTTP/1.1 200".utf8))
        case .http2: return ReceivedFrames(o.received).stream1HeaderBytes.first == 0x88
        }
    }
}

// MARK: - The test

/// Throws a generated corpus of malformed HTTP/1.1 requests and HTTP/2 frame sequences at the Swift sidecar, running
/// in this process in front of a test upstream, and checks that it answers or closes every one, never holds a
/// connection open past its own timeouts, keeps serving valid requests throughout, and ends with every connection
/// and request accounted for.
///
/// A crash of the proxy (a trap in a handler, a failed precondition) takes the test process down with it, which is
/// the loudest possible failure. The corpus is deterministic (fixed seed, one generator per case number), so a
/// failing case number reproduces exactly.
@Suite(.serialized)
struct ProxyFuzzTests {
    static let seed: UInt64 = 0x6D65_7368_6265_6E63  // "meshbenc"
    static let http1Cases = 3000
    static let http2Cases = 1000
    /// Connections in flight at once: enough to get through the cases that wait for a timeout.
    static let concurrency = 64
    /// Check that valid requests are still served after every this many cases.
    static let livenessInterval = 250

    /// Short timeouts so cases that wait for one finish quickly; the hang bound is far beyond all of them, so a
    /// case still open then is one no timeout of the proxy would ever close.
    static func configure(_ c: inout SidecarConfiguration) {
        c.headerTimeout = .milliseconds(500)
        c.idleTimeout = .seconds(1)
        c.requestTimeout = .seconds(1)
        c.shutdownGracePeriod = .milliseconds(200)
    }

    static let hangBound = TimeAmount.seconds(8)

    @Test func generatorsAreDeterministic() {
        for id in [0, 1, 17, 1234, 2999] {
            #expect(HTTP1Corpus.make(id: id, seed: Self.seed).bytes == HTTP1Corpus.make(id: id, seed: Self.seed).bytes)
            #expect(HTTP2Corpus.make(id: id, seed: Self.seed).bytes == HTTP2Corpus.make(id: id, seed: Self.seed).bytes)
        }
        #expect(HTTP1Corpus.make(id: 1, seed: Self.seed).bytes != HTTP1Corpus.make(id: 1, seed: Self.seed + 1).bytes)
    }

    @Test func theProxyAnswersOrClosesEveryMalformedInputAndKeepsServing() async throws {
        let (app, appPort) = try await startApp()
        var configuration = SidecarConfiguration(upstreams: [loopback(appPort)])
        Self.configure(&configuration)
        let proxy = SidecarProxy(configuration: configuration)
        let port = try await proxy.start()

        let cases = (0..<Self.http1Cases).map { HTTP1Corpus.make(id: $0, seed: Self.seed) }
            + (0..<Self.http2Cases).map { HTTP2Corpus.make(id: Self.http1Cases + $0, seed: Self.seed) }

        var outcomes: [String: Int] = [:]
        var byFamily: [String: [String: Int]] = [:]
        var hung: [FuzzCase] = []
        var failedValid: [(FuzzCase, String)] = []
        var retriedValid = 0
        var connectFailures = 0
        var livenessChecks = 0
        let started = Date()

        var next = 0
        while next < cases.count {
            let batch = Array(cases[next..<min(cases.count, next + Self.livenessInterval)])
            next += batch.count
            let results = await withTaskGroup(of: (Int, FuzzObservation).self) { group in
                var pending = batch.indices.makeIterator()
                var results: [(Int, FuzzObservation)] = []
                for _ in 0..<Self.concurrency {
                    guard let i = pending.next() else { break }
                    group.addTask { (i, await FuzzClient.run(batch[i], port: port, hangBound: Self.hangBound)) }
                }
                while let result = await group.next() {
                    results.append(result)
                    if let i = pending.next() {
                        group.addTask { (i, await FuzzClient.run(batch[i], port: port, hangBound: Self.hangBound)) }
                    }
                }
                return results
            }
            for (i, observation) in results {
                let fuzzCase = batch[i]
                let outcome = FuzzClient.outcomeClass(observation, wire: fuzzCase.wire)
                outcomes["\(fuzzCase.wire.rawValue): \(outcome)", default: 0] += 1
                byFamily["\(fuzzCase.wire.rawValue)/\(fuzzCase.family)", default: [:]][outcome, default: 0] += 1
                if observation.hung { hung.append(fuzzCase) }
                if observation.connectFailed { connectFailures += 1 }
                if fuzzCase.mustSucceed, !FuzzClient.succeeded(observation, wire: fuzzCase.wire) {
                    // Again, alone, up to three times: with 64 clients and the rest of the suite on two cores, a
                    // client can be descheduled past the 500 ms header timeout between connect and write (the proxy
                    // then closes an idle connection without a byte), and in CI more than once. A proxy that does
                    // not serve the request fails every time.
                    var tries: [String] = []
                    var served = false
                    for _ in 0..<3 where !served {
                        let again = await FuzzClient.run(fuzzCase, port: port, hangBound: Self.hangBound)
                        served = FuzzClient.succeeded(again, wire: fuzzCase.wire)
                        tries.append(FuzzClient.outcomeClass(again, wire: fuzzCase.wire))
                        if !served { try await Task.sleep(for: .milliseconds(100)) }
                    }
                    if served {
                        retriedValid += 1
                    } else {
                        failedValid.append((fuzzCase, ([outcome] + tries).joined(separator: ", then ")))
                    }
                }
            }
            // Between batches: the proxy still serves a valid request on each protocol.
            let h1 = try await oneValidHTTP1Request(port: port)
            #expect(h1 == .ok, "after \(next) cases the proxy answered a valid HTTP/1.1 request with \(h1)")
            let h2 = try await oneValidHTTP2Request(port: port)
            #expect(h2 == .ok, "after \(next) cases the proxy answered a valid HTTP/2 request with \(h2)")
            livenessChecks += 1
        }
        let elapsed = Date().timeIntervalSince(started)

        print("proxy fuzz: \(cases.count) cases (\(Self.http1Cases) HTTP/1.1, \(Self.http2Cases) HTTP/2), seed "
              + "\(String(Self.seed, radix: 16)), \(livenessChecks) liveness checks, \(String(format: "%.1f", elapsed)) s, "
              + "\(retriedValid) valid case(s) served only on a second try")
        for (outcome, count) in outcomes.sorted(by: { $0.value > $1.value }) {
            print("  \(String(count).padding(toLength: 6, withPad: " ", startingAt: 0)) \(outcome)")
        }
        for (family, classes) in byFamily.sorted(by: { $0.key < $1.key }) {
            let shown = classes.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: "; ")
            print("  \(family): \(shown)")
        }

        #expect(hung.isEmpty, "open with no answer after \(Self.hangBound): \(hung.prefix(10).map(\.description))")
        #expect(failedValid.isEmpty,
                "valid requests not answered 200: \(failedValid.prefix(10).map { "\($0.0) -> \($0.1)" })")
        #expect(connectFailures == 0, "\(connectFailures) connections could not be made")
        // The corpus reaches both protocols' error handling, or it tests nothing.
        #expect(outcomes.keys.contains { $0.hasPrefix("http1: HTTP/1.1 4") }, "no HTTP/1.1 case drew a 4xx")
        #expect(outcomes.keys.contains { $0.hasPrefix("http2: h2 GOAWAY") }, "no HTTP/2 case drew a GOAWAY")

        // Every connection closed and every request the proxy took is accounted for: nothing leaked.
        let settled = await eventually(timeout: .seconds(15)) {
            let stats = await proxy.stats()
            return stats.downstreamConnectionsOpen == 0 && stats.requests == stats.responses
        }
        let stats = await proxy.stats()
        #expect(settled, """
            connections open \(stats.downstreamConnectionsOpen), requests \(stats.requests), \
            responses \(stats.responses)
            """)
        print("  proxy stats: \(stats.downstreamConnections) connections, \(stats.requests) requests, "
              + "\(stats.localReplies) local replies")

        // And a last request once everything settled.
        let last = try await oneValidHTTP1Request(port: port)
        #expect(last == .ok)
        try? await proxy.stop()
        try? await app.stop()
    }

    /// The two ways the fuzzer found to hold an HTTP/2 connection forever, before `HTTP2IdleWatchdog`: a client that
    /// sends the preface and never opens a stream, and one that finished a request and then ignores the GOAWAY and
    /// PING of the idle close. Neither answers PINGs (this raw client never does). Both must be sent a GOAWAY and
    /// closed by the proxy.
    @Test(arguments: ["preface only", "idle after a request"])
    func anHTTP2ConnectionThatStaysIdleIsClosedEvenIfTheClientIgnoresTheGoAway(_ variant: String) async throws {
        let (app, appPort) = try await startApp()
        var configuration = SidecarConfiguration(upstreams: [loopback(appPort)])
        Self.configure(&configuration)
        let proxy = SidecarProxy(configuration: configuration)
        let port = try await proxy.start()
        let bytes = variant == "preface only" ? HTTP2Corpus.opening : HTTP2Corpus.opening + HTTP2Corpus.validGet()
        // The case must not end at the response: wait for the close.
        let fuzzCase = FuzzCase(id: -1, wire: .http1, family: variant, bytes: bytes, mustSucceed: false)
        let observation = await FuzzClient.run(fuzzCase, port: port, hangBound: Self.hangBound)
        let frames = ReceivedFrames(observation.received)
        #expect(observation.closedByProxy, "\(variant): still open after \(Self.hangBound)")
        #expect(frames.goAwayErrors.first == 0, "\(variant): frames \(frames.types), GOAWAY codes \(frames.goAwayErrors)")
        if variant != "preface only" {
            #expect(frames.stream1HeaderBytes.first == 0x88, "the request itself was answered 200")
        }
        let settled = await eventually(timeout: .seconds(10)) { await proxy.stats().downstreamConnectionsOpen == 0 }
        #expect(settled)
        try? await proxy.stop()
        try? await app.stop()
    }

    /// A valid request on a fresh connection. A transport error (the connection closed under it) is retried twice:
    /// with 64 fuzz clients and the rest of the test suite sharing two cores, the proxy's 500 ms header timeout can
    /// fire before a slow test client writes. A proxy that stopped serving fails every attempt.
    func withRetries(_ attempt: () async throws -> HTTPResponseStatusCode) async throws -> HTTPResponseStatusCode {
        var lastError: Error?
        for _ in 0..<3 {
            do {
                return try await attempt()
            } catch {
                lastError = error
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        throw lastError ?? CancellationError()
    }

    func oneValidHTTP1Request(port: Int) async throws -> HTTPResponseStatusCode {
        try await withRetries {
            let connection = try await HTTP1TestConnection.connect(port: port)
            let response = try await connection.request(.GET, "/?size=64")
            await connection.close()
            return HTTPResponseStatusCode(response.status.code)
        }
    }

    func oneValidHTTP2Request(port: Int) async throws -> HTTPResponseStatusCode {
        try await withRetries {
            let connection = try await HTTP2TestConnection.connect(port: port)
            let response = try await connection.request(.POST, "/echo", body: "still here")
            await connection.close()
            return HTTPResponseStatusCode(response.status.code)
        }
    }
}

/// A status code as a value the expectations print readably.
struct HTTPResponseStatusCode: Equatable, CustomStringConvertible {
    var code: UInt
    init(_ code: UInt) { self.code = code }
    static let ok = HTTPResponseStatusCode(200)
    var description: String { String(code) }
}
