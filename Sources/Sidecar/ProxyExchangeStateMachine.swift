/// An upstream connection as the proxy's exchange state machine needs to see it.
protocol ProxyUpstreamConnection: AnyObject {
    /// The connection takes more writes without buffering; when not, the request side holds its reads.
    var isWritable: Bool { get }
}

/// Where `ProxyHandler` is with the one request it serves at a time, and what each event means for it: a pure value
/// whose mutating methods return what the handler must do, so that the rules can be checked without a channel. The
/// handler does the I/O; what went wrong with an attempt and what the client then sees is `ProxyFailureMapping`'s.
///
/// Generic over the connection so that tests can drive it with a stand-in.
struct ProxyExchangeStateMachine<Connection: ProxyUpstreamConnection> {
    enum State {
        /// No request: waiting for a head.
        case idle
        /// A request is waiting for an upstream connection: a new one, a pooled one freeing up, or a retry's back-off.
        case awaitingUpstream(requestEnded: Bool)
        /// The request is on `connection`; once the response head went downstream it can no longer become an error
        /// status.
        case forwarding(Connection, requestEnded: Bool, responseStarted: Bool)
        /// The response is complete (or was a local reply) but the request body is still arriving; it is dropped.
        case responded
        case closed
    }

    private(set) var state: State = .idle
    /// A downstream `read` held back because the request cannot go anywhere yet.
    private(set) var readHeld = false

    // MARK: Questions

    /// A request is being served (from its head until both its request and its response ended).
    var exchangeActive: Bool {
        switch state {
        case .awaitingUpstream, .forwarding, .responded: return true
        case .idle, .closed: return false
        }
    }

    var isAwaitingUpstream: Bool {
        if case .awaitingUpstream = state { return true }
        return false
    }

    /// The connection the request is on, if it is on one.
    var connection: Connection? {
        if case .forwarding(let connection, _, _) = state { return connection }
        return nil
    }

    /// The whole request arrived.
    var requestEnded: Bool {
        switch state {
        case .awaitingUpstream(let requestEnded), .forwarding(_, let requestEnded, _): return requestEnded
        case .idle, .responded, .closed: return false
        }
    }

    /// Part of a response went downstream: a failure can only cut it off now.
    var responseStarted: Bool {
        switch state {
        case .forwarding(_, _, let responseStarted): return responseStarted
        case .responded: return true
        case .idle, .awaitingUpstream, .closed: return false
        }
    }

    // MARK: Downstream events

    /// A request head arrived.
    /// - Returns: false when a request is still in progress: the framing of the connection cannot be trusted, and
    ///   the handler must close it (NIO's pipelining handler and the HTTP/2 codec never deliver such a head).
    mutating func requestHeadReceived() -> Bool {
        guard case .idle = state else { return false }
        state = .awaitingUpstream(requestEnded: false)
        return true
    }

    enum RequestPartAction {
        /// Write the part to this connection.
        case forward(Connection)
        /// Keep the part until a connection is attached.
        case queue
        /// Nothing needs the part: no request, its response is complete, or its body cannot be framed upstream.
        case drop
    }

    /// A piece of request body arrived.
    /// - Parameter framed: the outgoing head frames a body; if not, body bytes are dropped instead of smuggled
    ///   upstream as a next request.
    func requestBodyReceived(framed: Bool) -> RequestPartAction {
        guard framed else { return .drop }
        switch state {
        case .forwarding(let connection, _, _): return .forward(connection)
        case .awaitingUpstream: return .queue
        case .idle, .responded, .closed: return .drop
        }
    }

    enum RequestEndAction {
        /// Write the end to this connection and flush.
        case forward(Connection)
        /// Keep the end until a connection is attached.
        case queue
        /// The response was complete already: the exchange is over, and a held read goes on if `releaseRead`.
        case exchangeFinished(releaseRead: Bool)
        case none
    }

    mutating func requestEndReceived() -> RequestEndAction {
        switch state {
        case .forwarding(let connection, _, let responseStarted):
            state = .forwarding(connection, requestEnded: true, responseStarted: responseStarted)
            return .forward(connection)
        case .awaitingUpstream:
            state = .awaitingUpstream(requestEnded: true)
            return .queue
        case .responded:
            state = .idle
            return .exchangeFinished(releaseRead: takeHeldRead())
        case .idle, .closed:
            return .none
        }
    }

    /// The downstream asks for more bytes.
    /// - Returns: whether to pass the read on now; if not, it is held until the request can go somewhere.
    mutating func readRequested() -> Bool {
        switch state {
        case .awaitingUpstream:
            readHeld = true
            return false
        case .forwarding(let connection, _, _) where !connection.isWritable:
            readHeld = true
            return false
        case .idle, .forwarding, .responded, .closed:
            return true
        }
    }

    /// Clears a held read.
    /// - Returns: whether one was held, and so must be passed on now.
    mutating func takeHeldRead() -> Bool {
        defer { readHeld = false }
        return readHeld
    }

    // MARK: Upstream

    /// The request starts an attempt and waits for its connection.
    mutating func attemptStarted() {
        state = .awaitingUpstream(requestEnded: requestEnded)
    }

    /// The pool handed the waiting request `connection`.
    /// - Returns: whether a held read may go on now (the connection takes writes).
    mutating func attached(_ connection: Connection) -> Bool {
        state = .forwarding(connection, requestEnded: requestEnded, responseStarted: false)
        return connection.isWritable && takeHeldRead()
    }

    /// The request leaves its connection (which failed, timed out, or answered with something not to forward) and
    /// waits again: for a retry, a local reply or the end of the exchange.
    /// - Returns: the connection it left, for the handler to abandon.
    @discardableResult
    mutating func detached() -> Connection? {
        guard case .forwarding(let connection, let requestEnded, _) = state else { return nil }
        state = .awaitingUpstream(requestEnded: requestEnded)
        return connection
    }

    /// The response head went downstream.
    mutating func responseStarted(on connection: Connection) {
        guard case .forwarding(let current, let requestEnded, _) = state, current === connection else { return }
        state = .forwarding(connection, requestEnded: requestEnded, responseStarted: true)
    }

    /// What follows a complete response.
    struct Completion {
        /// The request had ended too: the exchange is over and the connection can go back to the pool.
        var requestEnded: Bool
        /// A read was held back and goes on now.
        var releaseRead: Bool
    }

    /// The upstream response ended; the downstream stays open for another request if `keepAlive`.
    mutating func responseCompleted(keepAlive: Bool) -> Completion {
        let requestEnded = self.requestEnded
        if keepAlive {
            state = requestEnded ? .idle : .responded
        } else {
            state = .closed
        }
        return Completion(requestEnded: requestEnded, releaseRead: takeHeldRead())
    }

    /// The proxy answered the request itself.
    mutating func replied(_ ending: LocalReply.Ending) {
        state = ending == .keepOpen ? .idle : .closed
    }

    /// The downstream is done: closed, reset, or about to be.
    mutating func closed() {
        state = .closed
    }
}
