import LabSys

#if canImport(Glibc)
import Glibc
#endif

/// The sockets libcurl asked the load driver to watch, in one epoll instance.
///
/// A socket curl stops watching stays registered ("parked") until it has an event or curl watches it again: a
/// kept-alive connection is re-watched for every request, and skipping the EPOLL_CTL_DEL/ADD pair saves two
/// syscalls per request.
final class SocketWatcher {
    private let epoll: Epoll
    private var registered: [Int32: Epoll.Events] = [:]
    private var parked: Set<Int32> = []

    init(capacity: Int = 64) throws {
        epoll = try Epoll(capacity: capacity)
    }

    /// Watches `fd` for exactly `events`.
    func watch(_ fd: Int32, for events: Epoll.Events) {
        parked.remove(fd)
        if registered[fd] == events { return }
        if registered[fd] != nil, (try? epoll.modify(fd, for: events)) != nil {
            registered[fd] = events
            return
        }
        // Not registered, or the kernel forgot it (the fd was closed and its number reused): add it.
        do {
            try epoll.add(fd, for: events)
            registered[fd] = events
        } catch {
            // EEXIST: registered after all (our bookkeeping lost it). Anything else is an fd the kernel refuses to
            // watch (already closed), which has nothing to report.
            if error.errno == EEXIST, (try? epoll.modify(fd, for: events)) != nil { registered[fd] = events }
        }
    }

    /// curl stopped watching `fd` but may keep it open: it stays registered until it has an event.
    func park(_ fd: Int32) {
        if registered[fd] != nil { parked.insert(fd) }
    }

    /// `fd` is about to be closed: drop it from epoll now, before its number can be reused.
    func forget(_ fd: Int32) {
        if registered.removeValue(forKey: fd) != nil { try? epoll.remove(fd) }
        parked.remove(fd)
    }

    /// Waits up to `timeoutNanoseconds`; returns how many events `event(at:)` can read.
    func wait(timeoutNanoseconds: UInt64) throws -> Int {
        try epoll.wait(timeoutNanoseconds: timeoutNanoseconds)
    }

    /// The `index`th event of the last wait, or nil for a parked socket: curl is not watching that idle connection,
    /// so it is dropped from epoll now that it has something to say (usually the peer closing it); curl finds out
    /// when it next checks the connection.
    func event(at index: Int) -> (fd: Int32, events: Epoll.Events)? {
        let (fd, events) = epoll.event(at: index)
        if parked.contains(fd) {
            forget(fd)
            return nil
        }
        return (fd, events)
    }
}
