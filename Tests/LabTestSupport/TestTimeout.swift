import NIOCore

/// A wait in a test that took longer than its bound.
public struct TestTimeout: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "timed out waiting for \(what)" }

    public init(what: String) {
        self.what = what
    }
}

/// Every wait in the lab's tests is bounded by this: a hung server fails a test instead of hanging the suite. It is
/// a bound on a wait, never a measure of speed.
public let testDeadline = TimeAmount.seconds(15)

/// Fails `promise` with `TestTimeout` if nothing completed it within `testDeadline`.
public func armTimeout<T>(_ promise: EventLoopPromise<T>, on loop: EventLoop, what: String) {
    let timer = loop.scheduleTask(in: testDeadline) { promise.fail(TestTimeout(what: what)) }
    promise.futureResult.whenComplete { _ in timer.cancel() }
}

/// Waits until `channel` is closed, by either side.
public func waitForClose(_ channel: Channel) async throws {
    let promise = channel.eventLoop.makePromise(of: Void.self)
    armTimeout(promise, on: channel.eventLoop, what: "the connection to close")
    channel.closeFuture.cascade(to: promise)
    try await promise.futureResult.get()
}
