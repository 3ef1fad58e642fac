import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a server: counted against a limit when one is set, and asked to finish by its `stop()`.
///
/// A lock, not per-loop state, because a limit is the whole server's. It is taken once when a connection opens and
/// once when it closes, never per request.
public final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])
    /// The most connections open at once; further ones are refused.
    public let limit: Int

    public init(limit: Int = .max) {
        self.limit = limit
    }

    public var all: [Channel] { channels.withLockedValue { Array($0.values) } }
    public var count: Int { channels.withLockedValue { $0.count } }

    /// Registers `channel` unless the limit is reached; the registration ends when the channel closes, and then
    /// `onClose` runs.
    /// - Returns: whether the channel was admitted.
    public func admit(_ channel: Channel, onClose: @escaping @Sendable () -> Void = {}) -> Bool {
        let key = ObjectIdentifier(channel)
        let admitted = channels.withLockedValue { open -> Bool in
            guard open.count < limit else { return false }
            open[key] = channel
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [channels] _ in
            channels.withLockedValue { $0[key] = nil }
            onClose()
        }
        return true
    }

    /// Asks every open connection to finish (`ChannelShouldQuiesceEvent`: HTTP/1 connections end their current
    /// response and close, HTTP/2 ones send GOAWAY and close when their streams are done), closes whatever is still
    /// open after `gracePeriod`, and returns once all of them are closed.
    public func drain(gracePeriod: TimeAmount, on eventLoop: EventLoop) async {
        let open = all
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = eventLoop.scheduleTask(in: gracePeriod) { [self] in
            for channel in self.all {
                channel.close(promise: nil)
            }
        }
        try? await EventLoopFuture.andAllComplete(open.map { $0.closeFuture }, on: eventLoop).get()
        deadline.cancel()
    }
}
