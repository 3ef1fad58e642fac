import NIOCore

/// The bytes every response body is cut from, built once when the server starts.
///
/// Bodies are slices of one shared buffer, so serving a request copies no payload bytes and allocates no payload
/// memory: the server's own cost stays flat whatever the response size, and the lab measures the data plane rather
/// than this server's memory traffic. A `?size=` larger than the buffer is sent as several slices of it.
struct ResponsePayload: Sendable {
    /// Smallest buffer kept, so that `?size=` overrides on a server with tiny default responses still go out in a few
    /// large writes instead of many small ones.
    static let minimumChunk = 64 * 1024

    private let filler: ByteBuffer

    init(defaultSize: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        let size = max(defaultSize, Self.minimumChunk)
        // Printable text, so a body shown by curl in a terminal is readable rather than control characters.
        let pattern = Array("meshbench upstream payload 0123456789 abcdefghijklmnopqrstuvwxyz\n".utf8)
        var buffer = allocator.buffer(capacity: size)
        while buffer.readableBytes < size {
            let n = min(pattern.count, size - buffer.readableBytes)
            buffer.writeBytes(pattern[0..<n])
        }
        filler = buffer
    }

    /// Calls `write` with consecutive slices whose sizes add up to `size`.
    func forEachSlice(totalSize size: Int, _ write: (ByteBuffer) -> Void) {
        var remaining = max(0, size)
        while remaining > 0 {
            let n = min(remaining, filler.readableBytes)
            guard let slice = filler.getSlice(at: filler.readerIndex, length: n) else { return }
            write(slice)
            remaining -= n
        }
    }
}
