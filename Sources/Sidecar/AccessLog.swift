#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import LabBase
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The file the access log goes to, shared by every event loop.
///
/// Each loop collects lines in its own `AccessLogBuffer` and hands whole chunks here, so a request costs an append to
/// a per-loop byte array and the file sees one `write(2)` per 32 KiB or per flush interval. A chunk is written with a
/// single call on an `O_APPEND` descriptor, so chunks of different loops never interleave inside a line.
final class AccessLogWriter: Sendable {
    private let descriptor: CInt
    private let ownsDescriptor: Bool
    private let closed = NIOLockedValueBox(false)

    /// Opens the destination.
    ///
    /// - Throws: `LabError.badInput` when the file cannot be opened for appending.
    init(destination: AccessLogDestination) throws {
        switch destination {
        case .standardOutput:
            descriptor = STDOUT_FILENO
            ownsDescriptor = false
        case .file(let path):
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                let reason = String(cString: strerror(errno))
                throw LabError.badInput("access log: cannot open '\(path)' for appending: \(reason)")
            }
            descriptor = fd
            ownsDescriptor = true
        }
    }

    /// Writes `bytes` whole, retrying short writes and interruptions. A failing disk loses log lines, never requests.
    func write(_ bytes: [UInt8]) {
        guard !closed.withLockedValue({ $0 }) else { return }
        bytes.withUnsafeBytes { raw in
            guard var base = raw.baseAddress else { return }
            var remaining = raw.count
            while remaining > 0 {
                let written = systemWrite(descriptor, base, remaining)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                remaining -= written
                base = base.advanced(by: written)
            }
        }
    }

    func close() {
        let wasClosed = closed.withLockedValue { closed -> Bool in
            defer { closed = true }
            return closed
        }
        if !wasClosed && ownsDescriptor {
            _ = systemClose(descriptor)
        }
    }
}

// The class's own `write` and `close` shadow the C functions inside it; these name them unambiguously.
@inline(__always)
private func systemWrite(_ fd: CInt, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

@inline(__always)
private func systemClose(_ fd: CInt) -> CInt {
    close(fd)
}

/// One event loop's pending access log lines.
///
/// A line is `method path status duration_us bytes upstream request-id`, space-separated, built straight into a byte
/// array without intermediate strings; a path's bytes outside printable ASCII are replaced with `?` so that a request
/// cannot forge log lines.
final class AccessLogBuffer {
    static let flushThreshold = 32 * 1024

    private let writer: AccessLogWriter
    private var bytes: [UInt8] = []

    init(writer: AccessLogWriter) {
        self.writer = writer
        bytes.reserveCapacity(Self.flushThreshold + 1024)
    }

    func append(
        method: NIOHTTP1.HTTPMethod,
        uri: String,
        status: Int,
        durationNanoseconds: Int64,
        bytes count: Int,
        upstream: String?,
        requestID: String
    ) {
        appendPrintable(method.rawValue)
        bytes.append(UInt8(ascii: " "))
        appendPrintable(uri)
        bytes.append(UInt8(ascii: " "))
        appendDecimal(status)
        bytes.append(UInt8(ascii: " "))
        appendDecimal(Int(max(0, durationNanoseconds) / 1000))
        bytes.append(contentsOf: "us ".utf8)
        appendDecimal(count)
        bytes.append(UInt8(ascii: " "))
        appendPrintable(upstream ?? "-")
        bytes.append(UInt8(ascii: " "))
        appendPrintable(requestID.isEmpty ? "-" : requestID)
        bytes.append(UInt8(ascii: "\n"))
        if bytes.count >= Self.flushThreshold {
            flush()
        }
    }

    func flush() {
        guard !bytes.isEmpty else { return }
        writer.write(bytes)
        bytes.removeAll(keepingCapacity: true)
    }

    private func appendPrintable(_ text: String) {
        for byte in text.utf8 {
            bytes.append(byte > 0x20 && byte < 0x7F ? byte : UInt8(ascii: "?"))
        }
    }

    private func appendDecimal(_ value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
        }
        var magnitude = value.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes[start...].reverse()
    }
}
