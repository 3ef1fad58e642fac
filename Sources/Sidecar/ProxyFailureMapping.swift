import NIOHTTP1

/// How the proxy turns what went wrong with an attempt into what the client sees, the way a production proxy does:
/// 503 when no connection could be made, 502 when the upstream went away before answering or switched protocols,
/// 504 when it did not answer in time; a response that already started can only be cut off.
enum ProxyFailureMapping {
    /// What went wrong with the current attempt.
    enum Failure: Equatable {
        /// No upstream connection could be made.
        case connectFailed
        /// The upstream connection closed while the request was on it.
        case upstreamClosed
        /// The request's deadline passed while it was on an upstream connection.
        case timedOut
        /// The request's deadline passed while it waited for a connection or backed off.
        case deadlinePassedBeforeAttempt
    }

    enum Action: Equatable {
        case retry
        case reply(HTTPResponseStatus)
        /// End the downstream abruptly: close the HTTP/1 connection, reset the HTTP/2 stream.
        case resetDownstream
    }

    /// - Parameter mayRetry: what `RetryDecision.mayRetry` says for this request now.
    static func action(for failure: Failure, responseStarted: Bool, mayRetry: Bool) -> Action {
        if responseStarted {
            return .resetDownstream
        }
        switch failure {
        case .connectFailed:
            return mayRetry ? .retry : .reply(.serviceUnavailable)
        case .upstreamClosed:
            return mayRetry ? .retry : .reply(.badGateway)
        case .timedOut, .deadlinePassedBeforeAttempt:
            // A timed-out request is not retried: its time is up whichever endpoint would answer.
            return .reply(.gatewayTimeout)
        }
    }

    /// What to do with a response head from the upstream.
    enum HeadAction: Equatable {
        /// Forward it: the response has started.
        case forward
        /// An informational (1xx) head: passed on unless the client speaks HTTP/1.0, which has none.
        case informational(passOn: Bool)
        /// 101: the proxy stripped `Upgrade`, so a switch of protocols was never asked for; the connection now
        /// speaks something else and cannot carry this response. Answer 502.
        case refuseSwitchingProtocols
        /// A 502, 503 or 504 that may be retried: drop the rest of this response and try again.
        case retry
    }

    static func headAction(status code: UInt, downstreamVersion: HTTPVersion, mayRetry: Bool) -> HeadAction {
        if code == 101 {
            return .refuseSwitchingProtocols
        }
        if code < 200 {
            return .informational(passOn: downstreamVersion != .http1_0)
        }
        if code == 502 || code == 503 || code == 504, mayRetry {
            return .retry
        }
        return .forward
    }
}
