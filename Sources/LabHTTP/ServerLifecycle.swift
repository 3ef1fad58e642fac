import NIOConcurrencyHelpers

/// Where a server that starts once and stops once is in its life, and the rules for moving on: `start()` only from
/// idle, a `stop()` during `start()` wins, a failed start leaves the server startable again, and `stop()` of a server
/// that is not running does nothing.
///
/// `Running` is what a started server holds (threads, listeners); `Stopped` what it keeps after it stopped (final
/// counts, or nothing). Every method may be called from any thread or task.
public final class ServerLifecycle<Running: Sendable, Stopped: Sendable>: Sendable {
    public enum State: Sendable {
        case idle
        case starting
        case running(Running)
        case stopping(Running)
        case stopped(Stopped)
    }

    private let state = NIOLockedValueBox(State.idle)

    public init() {}

    public var current: State { state.withLockedValue { $0 } }

    /// What the server holds while it serves; nil before it started and from the moment it is asked to stop.
    public var running: Running? {
        if case .running(let running) = current { return running }
        return nil
    }

    /// What the server holds while it serves or shuts down; a server dropped meanwhile must still release it.
    public var started: Running? {
        switch current {
        case .running(let running), .stopping(let running): return running
        case .idle, .starting, .stopped: return nil
        }
    }

    /// Runs `launch` unless the server was started before, and keeps what it returns.
    ///
    /// - Parameters:
    ///   - alreadyStarted: thrown when the server is not idle.
    ///   - stoppedWhileStarting: thrown after `discard` when `stop()` was called while `launch` ran.
    ///   - launch: builds the running server; it releases what it built before it throws, and the server is idle again.
    ///   - discard: releases what `launch` built, when a `stop()` came first.
    public func start(
        alreadyStarted: @autoclosure () -> Error,
        stoppedWhileStarting: @autoclosure () -> Error,
        launch: () async throws -> Running,
        discard: (Running) async -> Void
    ) async throws -> Running {
        try state.withLockedValue { state in
            guard case .idle = state else { throw alreadyStarted() }
            state = .starting
        }
        let running: Running
        do {
            running = try await launch()
        } catch {
            state.withLockedValue { $0 = .idle }
            throw error
        }
        let kept = state.withLockedValue { state -> Bool in
            guard case .starting = state else { return false }
            state = .running(running)
            return true
        }
        guard kept else {
            await discard(running)
            throw stoppedWhileStarting()
        }
        return running
    }

    /// Shuts a running server down with `shutDown` and keeps what it returns; a server still starting is marked
    /// stopped with `empty` (its `start()` then discards what it built); otherwise does nothing.
    /// - Throws: what `shutDown` throws, after marking the server stopped with `empty`.
    public func stop(empty: Stopped, _ shutDown: (Running) async throws -> Stopped) async throws {
        let running = state.withLockedValue { state -> Running? in
            switch state {
            case .running(let running):
                state = .stopping(running)
                return running
            case .starting:
                state = .stopped(empty)
                return nil
            case .idle, .stopping, .stopped:
                return nil
            }
        }
        guard let running else { return }
        do {
            let final = try await shutDown(running)
            state.withLockedValue { $0 = .stopped(final) }
        } catch {
            state.withLockedValue { $0 = .stopped(empty) }
            throw error
        }
    }
}
