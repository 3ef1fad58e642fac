import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One event loop's upstream side: a connection pool per endpoint, and the balancer that picks the endpoint.
///
/// Per loop, as Envoy keeps per worker: a downstream connection and the upstream connections it uses share one
/// thread, so handing a pooled connection to a request, and bytes between the two, never crosses threads.
final class UpstreamPool {
    let endpoints: [EndpointPool]
    private let balancing: SidecarConfiguration.Balancing
    private var nextIndex = 0

    init(loop: LoopContext) {
        self.balancing = loop.runtime.configuration.balancing
        self.endpoints = loop.runtime.endpoints.map { EndpointPool(endpoint: $0, loop: loop) }
        // Loops start at different endpoints so that a multi-threaded proxy does not send each loop's first request
        // to the same one.
        if !endpoints.isEmpty {
            nextIndex = Int(loop.nextRandom() % UInt64(endpoints.count))
        }
    }

    /// The endpoint for the next attempt.
    ///
    /// - Parameter excluded: the endpoint whose attempt just failed; a retry goes elsewhere when there is elsewhere.
    func pick(excluding excluded: Int? = nil) -> EndpointPool {
        let count = endpoints.count
        if count == 1 {
            return endpoints[0]
        }
        let start = nextIndex
        nextIndex = (nextIndex + 1) % count
        switch balancing {
        case .roundRobin:
            if start == excluded {
                nextIndex = (nextIndex + 1) % count
                return endpoints[(start + 1) % count]
            }
            return endpoints[start]
        case .leastRequest:
            // Fewest requests in flight wins; scanning from a rotating start makes ties go round-robin.
            var best: EndpointPool?
            for offset in 0..<count {
                let candidate = endpoints[(start + offset) % count]
                if candidate.index == excluded { continue }
                if let current = best, current.activeRequests <= candidate.activeRequests { continue }
                best = candidate
            }
            return best ?? endpoints[start]
        }
    }

    /// Closes the idle connections; used by `stop()` once the downstream connections are gone.
    func closeIdleConnections() {
        for endpoint in endpoints {
            endpoint.closeIdleConnections()
        }
    }

    /// Closes the connections idle since before `cutoff`; the loop's sweeper calls it a few times per idle timeout.
    func closeConnections(idleSince cutoff: NIODeadline) {
        for endpoint in endpoints {
            endpoint.closeConnections(idleSince: cutoff)
        }
    }
}

/// The connections of one event loop to one endpoint: idle keep-alive connections to reuse, new ones opened up to a
/// cap, and the requests waiting when the cap is reached.
final class EndpointPool {
    /// How a request gets its connection.
    enum Lease {
        /// An idle connection, handed over at once.
        case ready(UpstreamConnectionHandler)
        /// The request is queued; `ProxyHandler.leaseSucceeded` or `leaseFailed` follows.
        case waiting
    }

    let endpoint: ResolvedEndpoint
    var index: Int { endpoint.index }
    unowned let loop: LoopContext
    /// Requests of this loop in flight to this endpoint: the least-request balancer's measure.
    var activeRequests = 0

    /// Most recently used last: reusing the warmest connection keeps the others idle long enough to be closed by the
    /// upstream's idle timeout when load drops, instead of all of them being kept half-used.
    private var idle: [UpstreamConnectionHandler] = []
    private var waiters = CircularBuffer<ProxyHandler>()
    /// Connections open or being opened.
    private(set) var openConnections = 0
    private var connecting = 0
    private let maxConnections: Int

    init(endpoint: ResolvedEndpoint, loop: LoopContext) {
        self.endpoint = endpoint
        self.loop = loop
        self.maxConnections = loop.runtime.configuration.maxConnectionsPerEndpoint
    }

    var idleConnections: Int { idle.count }

    func lease(for exchange: ProxyHandler) -> Lease {
        while let connection = idle.popLast() {
            if connection.isUsable {
                return .ready(connection)
            }
        }
        waiters.append(exchange)
        if connecting < waiters.count && openConnections < maxConnections {
            connect()
        }
        return .waiting
    }

    /// Takes `exchange` out of the queue: it gave up (timeout, downstream gone).
    func cancel(_ exchange: ProxyHandler) {
        if let position = waiters.firstIndex(where: { $0 === exchange }) {
            waiters.remove(at: position)
        }
    }

    /// A connection that finished a request and may carry the next one: to the oldest waiter, or to the idle list.
    func checkIn(_ connection: UpstreamConnectionHandler) {
        guard connection.isUsable else { return }
        if let waiter = waiters.popFirst() {
            waiter.leaseSucceeded(connection, from: self)
        } else {
            connection.becameIdle()
            idle.append(connection)
        }
    }

    /// Counts in a connection made elsewhere and offers it like a freed one; tests use it to put a connection on an
    /// `EmbeddedChannel` into the pool.
    func adopt(_ connection: UpstreamConnectionHandler) {
        openConnections += 1
        checkIn(connection)
    }

    /// Called once by each connection when it closes, whatever state it was in.
    func connectionClosed(_ connection: UpstreamConnectionHandler) {
        openConnections -= 1
        if let position = idle.firstIndex(where: { $0 === connection }) {
            idle.remove(at: position)
        }
        if connecting < waiters.count && openConnections < maxConnections {
            connect()
        }
    }

    func closeIdleConnections() {
        let closing = idle
        idle.removeAll()
        for connection in closing {
            connection.close()
        }
    }

    func closeConnections(idleSince cutoff: NIODeadline) {
        // The list is in check-in order, so the expired connections are a prefix of it.
        let expired = idle.prefix { $0.idleSince <= cutoff }
        guard !expired.isEmpty else { return }
        idle.removeFirst(expired.count)
        for connection in expired {
            connection.close()
        }
    }

    private func connect() {
        openConnections += 1
        connecting += 1
        loop.counters.upstreamConnectionsOpened += 1
        endpoint.metrics?.connectionsOpened.increment()

        let runtime = loop.runtime
        let handler = UpstreamConnectionHandler(
            pool: self,
            eventLoop: loop.eventLoop,
            usesTLS: runtime.clientTLS != nil
        )
        let clientTLS = runtime.clientTLS
        let serverHostname = endpoint.serverHostname
        let bootstrap = ClientBootstrap(group: loop.eventLoop)
            .connectTimeout(runtime.connectTimeout)
            // Requests are written whole; Nagle would hold back the last segment of every request head. At the TCP
            // level: `socketOption(.tcp_nodelay)` would set SO_DEBUG, refused without CAP_NET_ADMIN.
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let clientTLS {
                        try sync.addHandler(NIOSSLClientHandler(context: clientTLS, serverHostname: serverHostname))
                    }
                    let encoder = HTTPRequestEncoder()
                    // Informational responses (100 Continue) are forwarded so that a client waiting for one to send
                    // its body is not left waiting for its own timeout.
                    let decoder = HTTPResponseDecoder(
                        leftOverBytesStrategy: .dropBytes,
                        informationalResponseStrategy: .forward
                    )
                    try sync.addHandler(encoder)
                    try sync.addHandler(ByteToMessageHandler(decoder))
                    try sync.addHandler(handler)
                }
            }

        bootstrap.connect(to: endpoint.address)
            .flatMap { _ in handler.ready }
            .whenComplete { [self] result in
                connecting -= 1
                switch result {
                case .success:
                    checkIn(handler)
                case .failure(let error):
                    loop.counters.upstreamConnectFailures += 1
                    endpoint.metrics?.connectFailures.increment()
                    // The oldest waiter gets the failure: the attempt was made on its behalf. The others keep waiting
                    // for the connections still being made, or made for them when this one is counted out.
                    let waiter = waiters.popFirst()
                    handler.connectFailed()
                    waiter?.leaseFailed(error, from: self)
                }
            }
    }
}
