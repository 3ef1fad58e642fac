#if canImport(Glibc)
import Glibc
#endif

/// Signals to other processes, by PID.
public enum Signals {
    /// kill(pid, signal).
    public static func send(_ signal: Int32, to pid: Int32) throws(SysError) {
        try sysCall("kill(\(pid), \(signal))") { kill(pid, signal) }
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
