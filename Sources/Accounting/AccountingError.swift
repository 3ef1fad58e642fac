#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an accounting read failed, always naming the file: a number the lab cannot read must stop the measurement
/// with a message a user can act on, never turn into a zero in a report.
public enum AccountingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be opened or read; `reason` is the system's (strerror) text.
    case cannotRead(path: String, reason: String)
    /// The file could not be written (cgroup.procs, a peak reset); `reason` is the system's (strerror) text.
    case cannotWrite(path: String, reason: String)
    /// The file was read but its content is not what the kernel writes there. `line` is 1-based; nil when the
    /// problem is the file as a whole (empty, a key that never appears).
    case malformed(path: String, line: Int?, text: String?, reason: String)
    /// A counter that only grows was smaller at the end of a window than at its start: the cgroup was removed and
    /// created again during the window, so the delta would be meaningless.
    case counterWentBackwards(path: String, start: UInt64, end: UInt64)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .cannotRead(let path, _), .cannotWrite(let path, _), .malformed(let path, _, _, _),
            .counterWentBackwards(let path, _, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason)"
        case .malformed(let path, let line, let text, let reason):
            var location = path
            if let line { location += ", line \(line)" }
            if let text { location += " (\"\(text)\")" }
            return "malformed \(location): \(reason)"
        case .counterWentBackwards(let path, let start, let end):
            return "\(path) went backwards during the window (\(start) → \(end)): the cgroup was recreated"
        }
    }
}

/// Small file access with errno-precise errors. Foundation's readers report failures in their own generic words; the
/// lab needs the system's reason (ENOENT for a file an older kernel lacks, EACCES for one it makes read-only) to
/// say why, and to tell "absent" from "broken".
enum SysFile {
    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    /// The whole file as text. Kernel files report size 0, so this reads until end of file instead of trusting stat.
    static func read(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AccountingError.cannotRead(path: path, reason: errorText(errno)) }
        defer { close(fd) }
        return try read(fd: fd, path: path)
    }

    /// The whole file, or nil when it does not exist (ENOENT only: any other failure still throws).
    static func readIfPresent(_ path: String) throws -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 && errno == ENOENT { return nil }
        guard fd >= 0 else { throw AccountingError.cannotRead(path: path, reason: errorText(errno)) }
        defer { close(fd) }
        return try read(fd: fd, path: path)
    }

    /// Reads an open file from offset 0 with pread, so the same descriptor can be read again and again (a v2
    /// memory.peak descriptor keeps the peak since its own reset, so it must be re-read, never reopened).
    static func read(fd: Int32, path: String) throws -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let offset = off_t(bytes.count)
            let n = chunk.withUnsafeMutableBytes { buffer in pread(fd, buffer.baseAddress, buffer.count, offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw AccountingError.cannotRead(path: path, reason: errorText(errno))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `text` in one write call, as cgroup control files require (a split write is two commands). Opens with
    /// O_TRUNC like a shell's `echo 0 > file`: kernel files ignore it, and a plain file is left holding just `text`.
    static func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw AccountingError.cannotWrite(path: path, reason: errorText(errno)) }
        defer { close(fd) }
        try write(fd: fd, path: path, text)
    }

    static func write(fd: Int32, path: String, _ text: String) throws {
        let bytes = Array(text.utf8)
        while true {
            let n = bytes.withUnsafeBytes { buffer in posixWrite(fd, buffer.baseAddress, buffer.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw AccountingError.cannotWrite(path: path, reason: errorText(errno)) }
            if n != bytes.count {
                throw AccountingError.cannotWrite(path: path, reason: "short write (\(n) of \(bytes.count) bytes)")
            }
            return
        }
    }

    /// `root` + `mount` + `relative`, with exactly one slash between parts, so "/" and "/tmp/fixture" roots and
    /// relative paths with or without slashes all give the same shape. An empty relative path is the hierarchy root.
    static func join(root: String, mount: String, relative: String) -> String {
        var parts: [Substring] = []
        for piece in [root, mount, relative] {
            parts.append(contentsOf: piece.split(separator: "/", omittingEmptySubsequences: true))
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// libc's write(2), reachable from inside `SysFile`, whose own `write` would otherwise shadow it.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// Parsing of the two shapes cgroup files come in: one value, or flat "key value" lines.
enum CgroupText {
    /// A single-value file such as memory.current or cpuacct.usage.
    static func singleValue(_ text: String, path: String) throws -> UInt64 {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmed() }
        let nonEmpty = lines.enumerated().filter { !$0.element.isEmpty }
        guard let first = nonEmpty.first else {
            throw AccountingError.malformed(path: path, line: nil, text: nil, reason: "empty file, expected a number")
        }
        if nonEmpty.count > 1 {
            let extra = nonEmpty[1]
            throw AccountingError.malformed(
                path: path, line: extra.offset + 1, text: extra.element, reason: "expected a single number")
        }
        guard let value = number(first.element) else {
            throw AccountingError.malformed(
                path: path, line: first.offset + 1, text: first.element, reason: "not a non-negative whole number")
        }
        return value
    }

    /// Strictly decimal digits: UInt64("+5") and similar leniencies would hide a file that is not what we think.
    static func number<S: StringProtocol>(_ text: S) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt64(text)
    }
}

/// A flat-keyed cgroup file (cpu.stat, cpuacct.stat, memory.stat): one "key value" pair per line.
///
/// Every line must have exactly two fields, since anything else means the file is not the one we think it is; values
/// are only checked for the keys a reader asks for, so a future kernel adding a non-numeric key breaks nothing.
struct KeyedFile {
    let path: String
    private var entries: [String: (value: String, line: Int, text: String)] = [:]

    init(text: String, path: String) throws {
        self.path = path
        var sawLine = false
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmed()
            if line.isEmpty { continue }
            sawLine = true
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2 else {
                throw AccountingError.malformed(
                    path: path, line: index + 1, text: line,
                    reason: "expected \"key value\", got \(fields.count) fields")
            }
            let key = String(fields[0])
            if entries[key] == nil { entries[key] = (String(fields[1]), index + 1, line) }
        }
        guard sawLine else {
            throw AccountingError.malformed(
                path: path, line: nil, text: nil, reason: "empty file, expected \"key value\" lines")
        }
    }

    func contains(_ key: String) -> Bool { entries[key] != nil }

    /// The value of a key that must be present.
    func value(_ key: String) throws -> UInt64 {
        guard let v = try optionalValue(key) else {
            throw AccountingError.malformed(path: path, line: nil, text: nil, reason: "no \"\(key)\" line")
        }
        return v
    }

    /// The value of a key that may be absent; present but non-numeric is still an error.
    func optionalValue(_ key: String) throws -> UInt64? {
        guard let entry = entries[key] else { return nil }
        guard let v = CgroupText.number(entry.value) else {
            throw AccountingError.malformed(
                path: path, line: entry.line, text: entry.text,
                reason: "value of \"\(key)\" is not a non-negative whole number")
        }
        return v
    }
}

extension StringProtocol {
    /// Without the blanks (space, tab, carriage return) at both ends; newlines are split on before this is called.
    func trimmed() -> String {
        let blanks: Set<Character> = [" ", "\t", "\r"]
        var s = Substring(self)
        while let f = s.first, blanks.contains(f) { s = s.dropFirst() }
        while let l = s.last, blanks.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
