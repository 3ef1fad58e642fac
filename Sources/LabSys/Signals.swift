#if canImport(Glibc)
import Glibc
#endif

/// Signals to other processes, by PID.
public enum Signals {
    /// kill(pid, signal).
    public static func send(_ signal: Int32, to pid: Int32) throws(SysError) {
        try sysCall("kill(\(pid), \(signal))") { kill(pid, signal) }
    }

    /// Unblocks every signal on the calling thread. The signal mask survives `execve`, and the thread that execs a
    /// component may be one of the Swift runtime's, which block nearly every signal: a program that does not reset
    /// its own mask (nginx in single-process mode, socat) would then never see SIGTERM, neither the lab's stop
    /// signal nor the death signal it asked for. Dispositions are left as they are (an ignored SIGPIPE stays
    /// ignored, as it always was for the lab's components).
    public static func unblockAll() throws(SysError) {
        var empty = sigset_t()
        sigemptyset(&empty)
        let rc = pthread_sigmask(SIG_SETMASK, &empty, nil)
        guard rc == 0 else { throw SysError(call: "pthread_sigmask(SIG_SETMASK, {})", errno: rc) }
    }

    /// True when a process with this PID exists, including one this process may not signal (EPERM).
    public static func processExists(_ pid: Int32) -> Bool {
        do {
            try sysCall("kill(\(pid), 0)") { kill(pid, 0) }
            return true
        } catch {
            return error.errno == EPERM
        }
    }
}
