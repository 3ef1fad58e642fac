import LabCore
import NIOHTTP1
import Testing

@testable import Sidecar

/// The proxy's decisions as tables: when a request is retried, how long it backs off, which status a failure
/// becomes and what a local reply looks like. Pure functions, so no channel is needed.
struct ProxyDecisionTests {
    struct RetryCase: CustomTestStringConvertible, Sendable {
        var name: String
        var policy: RetryPolicy?
        var retryable = true
        var responseStarted = false
        var attempts = 1
        var isRetry = false
        var retriesInFlight = 0
        var requestsInFlight = 1
        var expected: Bool

        var testDescription: String { name }
    }

    static let retryCases: [RetryCase] = [
        RetryCase(name: "retries off", policy: nil, expected: false),
        RetryCase(name: "first failure, budget free", policy: RetryPolicy(), expected: true),
        RetryCase(name: "not idempotent or body too long", policy: RetryPolicy(), retryable: false, expected: false),
        RetryCase(name: "response already started", policy: RetryPolicy(), responseStarted: true, expected: false),
        RetryCase(name: "last allowed retry", policy: RetryPolicy(maxRetries: 2), attempts: 2, expected: true),
        RetryCase(name: "retries used up", policy: RetryPolicy(maxRetries: 2), attempts: 3, expected: false),
        RetryCase(name: "no retries configured", policy: RetryPolicy(maxRetries: 0), expected: false),
        // Budget: at least minRetryConcurrency (3) retries, or budgetRatio (20%) of the requests in flight.
        RetryCase(name: "minimum concurrency reached", policy: RetryPolicy(), retriesInFlight: 3,
                  requestsInFlight: 4, expected: false),
        RetryCase(name: "below minimum concurrency", policy: RetryPolicy(), retriesInFlight: 2,
                  requestsInFlight: 4, expected: true),
        RetryCase(name: "own retry does not count against itself", policy: RetryPolicy(), attempts: 2,
                  isRetry: true, retriesInFlight: 3, requestsInFlight: 4, expected: true),
        RetryCase(name: "ratio of many requests allows more", policy: RetryPolicy(), retriesInFlight: 19,
                  requestsInFlight: 100, expected: true),
        RetryCase(name: "ratio of many requests reached", policy: RetryPolicy(), retriesInFlight: 20,
                  requestsInFlight: 100, expected: false),
        RetryCase(name: "zero budget", policy: RetryPolicy(budgetRatio: 0, minRetryConcurrency: 0),
                  requestsInFlight: 100, expected: false),
    ]

    @Test(arguments: retryCases)
    func retryBudget(_ c: RetryCase) {
        let allowed = RetryDecision.mayRetry(
            policy: c.policy,
            retryable: c.retryable,
            responseStarted: c.responseStarted,
            attempts: c.attempts,
            isRetry: c.isRetry,
            retriesInFlight: c.retriesInFlight,
            requestsInFlight: c.requestsInFlight
        )
        #expect(allowed == c.expected)
    }

    @Test func idempotentMethodsAreTheOnesOfRFC9110() {
        for method: NIOHTTP1.HTTPMethod in [.GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE] {
            #expect(RetryDecision.isIdempotent(method), "\(method)")
        }
        for method: NIOHTTP1.HTTPMethod in [.POST, .PATCH, .CONNECT] {
            #expect(!RetryDecision.isIdempotent(method), "\(method)")
        }
    }

    /// (base, attempt, random draw, expected back-off): the draw modulo base * 2^(attempt-1) + 1, the exponent
    /// capped at 10, and no draw at all without a base.
    @Test(arguments: [
        (UInt64(0), 1, UInt64(12345), Int64(0)),
        (25, 1, 0, 0),
        (25, 1, 25, 25),
        (25, 1, 26, 0),
        (25, 2, 50, 50),
        (25, 2, 51, 0),
        (25, 3, 99, 99),
        (25, 0, 25, 25),
        (1, 11, 1024, 1024),
        (1, 30, 1025, 0),
    ])
    func backoffIsAJitteredExponential(base: UInt64, attempt: Int, draw: UInt64, expected: Int64) {
        var draws = 0
        let backoff = RetryDecision.backoffNanoseconds(baseNanoseconds: base, afterAttempt: attempt) {
            draws += 1
            return draw
        }
        #expect(backoff == expected)
        #expect(draws == (base == 0 ? 0 : 1))
    }

    typealias Failure = ProxyFailureMapping.Failure
    typealias Action = ProxyFailureMapping.Action

    /// (failure, response started, may retry, action)
    @Test(arguments: [
        (Failure.connectFailed, false, false, Action.reply(.serviceUnavailable)),
        (.connectFailed, false, true, .retry),
        (.upstreamClosed, false, false, .reply(.badGateway)),
        (.upstreamClosed, false, true, .retry),
        (.upstreamClosed, true, false, .resetDownstream),
        (.upstreamClosed, true, true, .resetDownstream),
        (.timedOut, false, false, .reply(.gatewayTimeout)),
        (.timedOut, false, true, .reply(.gatewayTimeout)),
        (.timedOut, true, false, .resetDownstream),
        (.deadlinePassedBeforeAttempt, false, true, .reply(.gatewayTimeout)),
    ])
    func failuresBecomeTheStatusesOfAProductionProxy(
        failure: Failure, responseStarted: Bool, mayRetry: Bool, expected: Action
    ) {
        #expect(ProxyFailureMapping.action(for: failure, responseStarted: responseStarted, mayRetry: mayRetry)
            == expected)
    }

    typealias HeadAction = ProxyFailureMapping.HeadAction

    /// (upstream status, downstream version, may retry, action)
    @Test(arguments: [
        (UInt(200), HTTPVersion.http1_1, true, HeadAction.forward),
        (404, .http1_1, true, .forward),
        (500, .http1_1, true, .forward),
        (502, .http1_1, true, .retry),
        (503, .http2, true, .retry),
        (504, .http1_1, true, .retry),
        (503, .http1_1, false, .forward),
        (101, .http1_1, true, .refuseSwitchingProtocols),
        (100, .http1_1, false, .informational(passOn: true)),
        (103, .http2, false, .informational(passOn: true)),
        (100, .http1_0, false, .informational(passOn: false)),
    ])
    func upstreamHeads(code: UInt, version: HTTPVersion, mayRetry: Bool, expected: HeadAction) {
        #expect(ProxyFailureMapping.headAction(status: code, downstreamVersion: version, mayRetry: mayRetry)
            == expected)
    }

    /// (HTTP/2, request ended, keep-alive, ending)
    @Test(arguments: [
        (false, true, true, LocalReply.Ending.keepOpen),
        (false, true, false, .closeConnection),
        (false, false, true, .closeConnection),
        (true, true, true, .keepOpen),
        (true, true, false, .keepOpen),
        (true, false, true, .resetStream),
    ])
    func localRepliesCloseWhatCannotCarryOn(isHTTP2: Bool, requestEnded: Bool, keepAlive: Bool,
                                            expected: LocalReply.Ending) {
        let reply = LocalReply.make(status: .badGateway, isHTTP2: isHTTP2, requestEnded: requestEnded,
                                    keepAlive: keepAlive, downstreamVersion: isHTTP2 ? .http2 : .http1_0)
        #expect(reply.ending == expected)
        #expect(reply.head.status == .badGateway)
        #expect(reply.head.version == (isHTTP2 ? .http2 : .http1_1))
        #expect(reply.head.headers["connection"] == (expected == .closeConnection ? ["close"] : []))
        #expect(reply.head.headers["content-length"] == [String(reply.body.utf8.count)])
        #expect(reply.head.headers["content-type"] == ["text/plain"])
    }

    @Test(arguments: [
        (HTTPResponseStatus.serviceUnavailable, "no healthy upstream: upstream connect error\n"),
        (.badGateway, "upstream connect error or disconnect/reset before headers\n"),
        (.gatewayTimeout, "upstream request timeout\n"),
        (.methodNotAllowed, "CONNECT is not supported by this proxy\n"),
        (.requestTimeout, "Request Timeout\n"),
    ])
    func localReplyBodiesUseEnvoysWording(status: HTTPResponseStatus, body: String) {
        #expect(LocalReply.body(for: status) == body)
    }

    @Test func aMalformedRequestGetsAnEmptyReplyAndTheConnectionCloses() {
        let head = LocalReply.malformedRequest(status: .requestHeaderFieldsTooLarge)
        #expect(head.status == .requestHeaderFieldsTooLarge)
        #expect(head.headers["content-length"] == ["0"])
        #expect(head.headers["connection"] == ["close"])
    }
}
