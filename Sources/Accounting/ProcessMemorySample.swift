/// One reading of a process's memory, in bytes: /proc/<pid>/status (resident set and its split) and
/// /proc/<pid>/smaps_rollup (the proportional set, which divides each shared page among the processes mapping it).
public struct ProcessMemorySample: Equatable, Sendable {
    /// VmHWM: the most the process has ever held resident, kept by the kernel since the process started.
    public var highWaterBytes: UInt64
    /// VmRSS = RssAnon + RssFile + RssShmem.
    public var residentBytes: UInt64
    public var anonBytes: UInt64?
    public var fileBytes: UInt64?
    public var shmemBytes: UInt64?
    /// Pss, Pss_Anon, Pss_File from smaps_rollup; nil where it cannot be read.
    public var proportionalBytes: UInt64?
    public var proportionalAnonBytes: UInt64?
    public var proportionalFileBytes: UInt64?

    public init(highWaterBytes: UInt64, residentBytes: UInt64, anonBytes: UInt64? = nil, fileBytes: UInt64? = nil,
                shmemBytes: UInt64? = nil, proportionalBytes: UInt64? = nil, proportionalAnonBytes: UInt64? = nil,
                proportionalFileBytes: UInt64? = nil) {
        self.highWaterBytes = highWaterBytes
        self.residentBytes = residentBytes
        self.anonBytes = anonBytes
        self.fileBytes = fileBytes
        self.shmemBytes = shmemBytes
        self.proportionalBytes = proportionalBytes
        self.proportionalAnonBytes = proportionalAnonBytes
        self.proportionalFileBytes = proportionalFileBytes
    }

    /// From the texts of status and (when readable) smaps_rollup; nil when status has no memory lines (a zombie).
    public init?(status: String, smapsRollup: String?) {
        let s = ProcessMemoryReader.kilobyteFields(status)
        guard let hwm = s["VmHWM"], let rss = s["VmRSS"] else { return nil }
        let r = smapsRollup.map(ProcessMemoryReader.kilobyteFields) ?? [:]
        self.init(highWaterBytes: hwm, residentBytes: rss, anonBytes: s["RssAnon"], fileBytes: s["RssFile"],
                  shmemBytes: s["RssShmem"], proportionalBytes: r["Pss"], proportionalAnonBytes: r["Pss_Anon"],
                  proportionalFileBytes: r["Pss_File"])
    }
}

/// The largest value of each field over a component's samples (each field on its own: the anon peak and the file
/// peak may come from different moments, so they need not add up to the resident peak).
public struct ProcessMemoryPeaks: Equatable, Sendable {
    /// The largest VmHWM seen: the process's own high-water mark, start-up included.
    public var highWaterBytes: UInt64 = 0
    /// The largest VmRSS sampled.
    public var residentBytes: UInt64 = 0
    public var anonBytes: UInt64?
    public var fileBytes: UInt64?
    public var shmemBytes: UInt64?
    public var proportionalBytes: UInt64?
    public var samples = 0

    public init() {}

    public mutating func add(_ sample: ProcessMemorySample) {
        func larger(_ a: UInt64?, _ b: UInt64?) -> UInt64? {
            guard let b else { return a }
            return max(a ?? 0, b)
        }
        highWaterBytes = max(highWaterBytes, sample.highWaterBytes)
        residentBytes = max(residentBytes, sample.residentBytes)
        anonBytes = larger(anonBytes, sample.anonBytes)
        fileBytes = larger(fileBytes, sample.fileBytes)
        shmemBytes = larger(shmemBytes, sample.shmemBytes)
        proportionalBytes = larger(proportionalBytes, sample.proportionalBytes)
        samples += 1
    }
}
