import CLabSys

/// The CPUs a process or thread may run on (sched_setaffinity / sched_getaffinity).
public enum CPUAffinity {
    /// Restricts `pid` (0: the calling thread) to `cpus`. Indices outside what the kernel supports are ignored.
    public static func set(_ cpus: [Int], pid: Int32 = 0) throws(SysError) {
        let list = cpus.map { Int32(clamping: $0) }
        try sysCall("sched_setaffinity") {
            list.withUnsafeBufferPointer { CLabSys_set_affinity(pid, $0.baseAddress, Int32($0.count)) }
        }
    }

    /// The CPUs `pid` (0: the calling thread) may run on.
    public static func get(pid: Int32 = 0) throws(SysError) -> [Int] {
        var buffer = [Int32](repeating: 0, count: 1024)
        let count = try sysCall("sched_getaffinity") {
            CLabSys_get_affinity(pid, &buffer, Int32(buffer.count))
        }
        return buffer.prefix(Int(count)).map(Int.init)
    }
}
