import NIOHTTP1

/// When the proxy tries a request again, and how long it waits first: pure functions of the policy and the counts,
/// so that the rules can be checked without a channel.
enum RetryDecision {
    /// RFC 9110 section 9.2.2: the methods a client may repeat without changing the outcome.
    static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: return true
        default: return false
        }
    }

    /// Whether an attempt that failed before any response reached the client may be made again.
    ///
    /// - Parameters:
    ///   - retryable: retries are on, the method is idempotent and the body so far fits the replay buffer.
    ///   - attempts: the attempts made so far, the failed one included.
    ///   - isRetry: the request already counts in `retriesInFlight`.
    ///   - retriesInFlight, requestsInFlight: the loop's counts, for Envoy's retry budget.
    static func mayRetry(
        policy: RetryPolicy?,
        retryable: Bool,
        responseStarted: Bool,
        attempts: Int,
        isRetry: Bool,
        retriesInFlight: Int,
        requestsInFlight: Int
    ) -> Bool {
        guard let policy, retryable, !responseStarted, attempts <= policy.maxRetries else { return false }
        let otherRetries = retriesInFlight - (isRetry ? 1 : 0)
        return policy.budgetAllows(retriesInFlight: otherRetries, requestsInFlight: requestsInFlight)
    }

    /// Envoy's back-off: uniformly random up to base * 2^(attempt-1), so that retries of many failed requests spread
    /// out instead of arriving together.
    /// - Parameter random: draws a uniformly random number, only when there is a back-off to draw.
    static func backoffNanoseconds(
        baseNanoseconds base: UInt64,
        afterAttempt attempt: Int,
        random: () -> UInt64
    ) -> Int64 {
        guard base > 0 else { return 0 }
        let ceiling = base << UInt64(min(max(attempt - 1, 0), 10))
        return Int64(clamping: random() % (ceiling + 1))
    }
}
