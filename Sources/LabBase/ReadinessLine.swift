
/// How a long-running component (`meshbench serve`, `meshbench proxy`) tells whoever started it that it serves: once
/// its listening socket accepts connections it prints exactly one line `listening on HOST:PORT` to standard output
/// and flushes it, with the port the kernel picked when it was asked for port 0. A sidecar with metrics prints
/// `metrics on HOST:PORT` after it. Nothing else is printed on standard output before that line, so the
/// orchestrator reads the first line that starts with `prefix` and knows both that the component is ready and
/// where it is.
public enum ReadinessLine {
    public static let prefix = "listening on "
    public static let metricsPrefix = "metrics on "

    /// The line a component prints when it serves on `address`.
    public static func listening(on address: HostPort) -> String { prefix + address.description }

    /// The line a sidecar prints when its metrics endpoint serves on `address`.
    public static func metrics(on address: HostPort) -> String { metricsPrefix + address.description }

    /// The address in a readiness line, or nil when `line` is not one.
    public static func address(in line: String) -> HostPort? {
        guard line.hasPrefix(prefix) else { return nil }
        return HostPort.parse(Text.trimmingSpaces(line.dropFirst(prefix.count)))
    }
}
