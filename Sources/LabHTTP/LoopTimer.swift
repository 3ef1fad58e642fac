import NIOCore

/// One pending task of a channel handler, on the handler's event loop: armed for a deadline, cancelled, or fired.
///
/// The handlers that time things out (a request deadline, an idle connection, a back-off) each hold at most one
/// scheduled task and need the same three steps around it: cancel the one before, schedule on the loop without a
/// `Sendable` hop, and forget it once it fired so that `isArmed` tells the truth inside the callback. Only ever used
/// on its handler's event loop, like the handler itself.
public final class LoopTimer {
    private var scheduled: Scheduled<Void>?

    public init() {}

    /// Whether a firing is pending.
    public var isArmed: Bool { scheduled != nil }

    /// Replaces any pending firing with one at `deadline`; `fire` runs on `eventLoop`, after the timer is disarmed.
    public func arm(on eventLoop: EventLoop, at deadline: NIODeadline, _ fire: @escaping () -> Void) {
        scheduled?.cancel()
        scheduled = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.scheduled = nil
            fire()
        }
    }

    /// Drops the pending firing, if any.
    public func cancel() {
        scheduled?.cancel()
        scheduled = nil
    }
}

@available(*, unavailable)
extension LoopTimer: Sendable {}
