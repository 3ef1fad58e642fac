import CLabSys

#if canImport(Glibc)
import Glibc
#endif

/// An epoll instance waited on with epoll_pwait2, whose nanosecond timeout lets a caller wake at the moment it
/// needs rather than at a millisecond-rounded poll timeout.
///
/// Readiness comes back in a buffer the instance owns, so a wait allocates nothing: `wait` returns how many events
/// arrived and `event(at:)` reads them until the next wait.
public final class Epoll {
    /// What a descriptor is watched for, or what it reported.
    public struct Events: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let readable = Events(rawValue: EPOLLIN.rawValue)
        public static let writable = Events(rawValue: EPOLLOUT.rawValue)
        /// Reported only: an error or hang-up on the descriptor.
        public static let error = Events(rawValue: EPOLLERR.rawValue | EPOLLHUP.rawValue)
    }

    private let fd: Int32
    private var buffer: [epoll_event]

    /// - Parameter capacity: at most this many events come back from one wait.
    public init(capacity: Int = 64) throws(SysError) {
        fd = try sysCall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        buffer = [epoll_event](repeating: epoll_event(), count: max(1, capacity))
    }

    deinit { close(fd) }

    /// EPOLL_CTL_ADD.
    public func add(_ descriptor: Int32, for events: Events) throws(SysError) {
        try control(EPOLL_CTL_ADD, "epoll_ctl(EPOLL_CTL_ADD)", descriptor, events)
    }

    /// EPOLL_CTL_MOD.
    public func modify(_ descriptor: Int32, for events: Events) throws(SysError) {
        try control(EPOLL_CTL_MOD, "epoll_ctl(EPOLL_CTL_MOD)", descriptor, events)
    }

    /// EPOLL_CTL_DEL.
    public func remove(_ descriptor: Int32) throws(SysError) {
        try sysCall("epoll_ctl(EPOLL_CTL_DEL)") { epoll_ctl(fd, EPOLL_CTL_DEL, descriptor, nil) }
    }

    /// Waits up to `timeoutNanoseconds` and returns how many descriptors are ready (0 on timeout or when a signal
    /// interrupted the wait: the caller's loop checks its clock either way).
    public func wait(timeoutNanoseconds: UInt64) throws(SysError) -> Int {
        var timeout = timespec(tv_sec: Int(timeoutNanoseconds / 1_000_000_000),
                               tv_nsec: Int(timeoutNanoseconds % 1_000_000_000))
        let n = epoll_pwait2(fd, &buffer, Int32(buffer.count), &timeout, nil)
        if n < 0 {
            if errno == EINTR { return 0 }
            throw SysError(call: "epoll_pwait2", errno: errno)
        }
        return Int(n)
    }

    /// The `index`th ready descriptor of the last wait.
    public func event(at index: Int) -> (descriptor: Int32, events: Events) {
        (buffer[index].data.fd, Events(rawValue: buffer[index].events))
    }

    private func control(_ operation: Int32, _ name: String, _ descriptor: Int32, _ events: Events) throws(SysError) {
        var event = epoll_event()
        event.data.fd = descriptor
        event.events = events.rawValue
        try sysCall(name) { epoll_ctl(fd, operation, descriptor, &event) }
    }
}
