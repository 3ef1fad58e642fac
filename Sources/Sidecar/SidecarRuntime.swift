import LabBase
import LabHTTP
import NIOCore
import NIOSSL

/// One upstream endpoint as the proxy uses it: resolved once at start, labelled once for metrics and the log.
struct ResolvedEndpoint: Sendable {
    var index: Int
    var hostPort: HostPort
    var address: SocketAddress
    /// `host:port`, the label of its metrics and its name in the access log.
    var label: String
    /// The name checked against the peer certificate and sent as SNI; nil for an IP address, whose certificate
    /// check NIOSSL makes against the connected address instead (the lab's certificates carry IP SAN 127.0.0.1).
    var serverHostname: String?
    /// Nil when metrics are off: the request path checks this one optional and does nothing else.
    var metrics: EndpointMetrics?
}

/// Everything a running proxy shares between its event loops. Built once by `start()`, never changed after.
struct SidecarRuntime: Sendable {
    var configuration: SidecarConfiguration
    var endpoints: [ResolvedEndpoint]
    /// Set for `role == .inbound` with TLS: downstream connections must present a client certificate.
    var serverTLS: NIOSSLContext?
    /// Set for `role == .outbound` with TLS: upstream connections present this proxy's certificate.
    var clientTLS: NIOSSLContext?
    var metrics: SidecarMetrics?
    var accessLog: AccessLogWriter?
    /// The open downstream connections, counted against `maxConnections` and asked to finish by `stop()`.
    var connections: ConnectionRegistry

    var requestTimeout: TimeAmount { .nanoseconds(Int64(clamping: configuration.requestTimeout.nanoseconds)) }
    var connectTimeout: TimeAmount { .nanoseconds(Int64(clamping: configuration.connectTimeout.nanoseconds)) }
}

/// What one event loop of the proxy owns: its upstream connection pools, its random generator, its counters and
/// its share of the access log.
///
/// Every downstream and upstream channel of a loop is handled on that loop, so this state is only ever touched from
/// its own thread and needs no lock: that is what keeps locks off the request path. `@unchecked Sendable` lets the
/// proxy hand the object to the loop's channel initialisers; nothing reads or writes it from another thread except
/// through `eventLoop.submit`.
final class LoopContext: @unchecked Sendable {
    let eventLoop: EventLoop
    let runtime: SidecarRuntime
    let retryPolicy: RetryPolicy?
    /// Copied out of `runtime` so that the request path reads one field instead of copying the runtime struct.
    let requestTimeout: TimeAmount
    /// Built on first use because the pools point back at this context.
    private(set) lazy var pool = UpstreamPool(loop: self)
    /// Nil when the access log is off.
    let accessLog: AccessLogBuffer?

    var counters = LoopCounters()
    /// Requests between head and the end of their response, for the retry budget.
    var requestsInFlight = 0
    /// Of those, the ones on a second or later attempt.
    var retriesInFlight = 0

    private var random: SplitMix64

    init(eventLoop: EventLoop, runtime: SidecarRuntime) {
        self.eventLoop = eventLoop
        self.runtime = runtime
        self.retryPolicy = runtime.configuration.retries
        self.requestTimeout = runtime.requestTimeout
        self.accessLog = runtime.accessLog.map { AccessLogBuffer(writer: $0) }
        self.random = SplitMix64(seed: UInt64.random(in: .min ... .max))
    }

    func nextRandom() -> UInt64 {
        random.next()
    }

    /// A fresh request id: 128 random bits as 32 lower-case hex digits, from a per-loop generator so that making one
    /// costs no system call and no lock.
    func makeRequestID() -> String {
        let high = random.next()
        let low = random.next()
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { hex in
                for i in 0..<16 {
                    buffer[i] = hex[Int((high >> UInt64(60 - 4 * i)) & 0xF)]
                    buffer[16 + i] = hex[Int((low >> UInt64(60 - 4 * i)) & 0xF)]
                }
            }
            return 32
        }
    }
}

/// Plain counters of one loop; `SidecarProxy.stats()` adds the loops' counters up on their own threads.
struct LoopCounters {
    var downstreamConnections = 0
    var rejectedConnections = 0
    var requests = 0
    var responses = 0
    var localReplies = 0
    var upstreamConnectionsOpened = 0
    var upstreamConnectFailures = 0
    var retries = 0
    var resetsAfterResponseStarted = 0
    var originalDestinationConnections = 0
}

/// The loops' contexts, found by event loop when a channel is accepted. Immutable after start.
struct LoopContexts: Sendable {
    private let byLoop: [ObjectIdentifier: LoopContext]
    let all: [LoopContext]

    init(_ contexts: [LoopContext]) {
        all = contexts
        var byLoop: [ObjectIdentifier: LoopContext] = [:]
        for context in contexts {
            byLoop[ObjectIdentifier(context.eventLoop)] = context
        }
        self.byLoop = byLoop
    }

    func context(for eventLoop: EventLoop) -> LoopContext? {
        byLoop[ObjectIdentifier(eventLoop)]
    }
}
