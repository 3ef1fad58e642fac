import Foundation
import LabCore

/// The human summary a load run prints, wrk2-style: the corrected and uncorrected latency side by side, then counts.
public enum TextSummary {
    public static func render(_ r: LoadResult, title: String? = nil) -> String {
        var out = ""
        if let title { out += "\(title)\n" }
        let target = r.url.map { " \($0)" } ?? ""
        out += "\(r.mode == "open" ? "open loop at \(r.requestedQPS) rps" : "closed loop (max rate)")"
        out += ", \(r.connections) connections"
        if let t = r.threads, t > 1 { out += " on \(t) threads" }
        out += ", \(r.protocolName)\(target)\n"
        let heads = ["p50", "p75", "p90", "p99", "p99.9", "max", "mean"].map { $0.padding(toLength: 10) }
        out += "  " + "latency".padding(toLength: 12, withPad: " ", startingAt: 0) + " " + heads.joined(separator: " ") + "\n"
        func row(_ name: String, _ s: LatencySummary) -> String {
            let cells = [s.p50, s.p75, s.p90, s.p99, s.p999, s.max, s.mean].map { NumberText.terminalLatency(microseconds: $0).padding(toLength: 10) }
            return "  " + name.padding(toLength: 12, withPad: " ", startingAt: 0) + " " + cells.joined(separator: " ") + "\n"
        }
        if r.mode == "open" {
            out += row("corrected", r.latencyUs)
            out += row("uncorrected", r.latencyUncorrectedUs)
            if let late = r.sendLatenessUs { out += row("send late", late) }
        } else {
            out += row("latency", r.latencyUncorrectedUs)
        }
        // Every request of the window, failures counted as not served within the timeout.
        if let all = r.latencyAllUs { out += row("all requests", all) }
        out += String(format: "  %llu requests in %.2fs: %.1f rps succeeded", r.requests, r.durationSeconds, r.achievedRPS)
        if let completed = r.completedRPS { out += String(format: " (%.1f rps completed)", completed) }
        out += ", \(r.ok) ok, \(r.errors) errors"
        if let fraction = r.errorFraction, fraction > 0 { out += String(format: " (%.2f%%)", fraction * 100) }
        out += "\n"
        let codes = r.statusCodes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        if !codes.isEmpty { out += "  status codes: \(codes)\n" }
        let classes = r.errorClasses.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        if !classes.isEmpty {
            out += "  errors: " + classes.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        }
        if let samples = r.errorSamples {
            for (text, n) in samples.sorted(by: { $0.value > $1.value }).prefix(5) { out += "    \(n)× \(text)\n" }
        }
        out += String(format: "  transfer: %.1f MB received, %.1f MB sent; %llu connections opened\n",
                      Double(r.bytesReceived) / 1e6, Double(r.bytesSent) / 1e6, r.connectionsOpened)
        if let cpu = r.loadgenCPU {
            out += String(format: "  load generator CPU: %.3f vCPU (%.2fs user, %.2fs sys over %.2fs)\n", cpu.vcpu,
                          cpu.userSeconds, cpu.systemSeconds, cpu.wallSeconds)
        }
        for warning in warnings(r) { out += "  WARNING: \(warning)\n" }
        return out
    }

    /// What a reader must know before trusting the numbers.
    public static func warnings(_ r: LoadResult) -> [String] {
        var w: [String] = []
        if r.mode == "open", let frac = r.lateSendFraction, frac > 0.05 {
            w.append(String(format: "%.0f%% of sends started more than 1 ms after their intended time: this host or "
                             + "target cannot sustain %@ rps with %d connections (achieved %.0f rps). Corrected "
                             + "latencies include that queueing; raise --connections or lower --qps.",
                            frac * 100, r.requestedQPS, r.connections, r.achievedRPS))
        }
        // The rate the target kept up with is the completed one; errors are said apart.
        let completed = r.completedRPS ?? r.achievedRPS
        if let requested = Double(r.requestedQPS), completed > 0, completed < requested * 0.99 {
            w.append(String(format: "completed %.1f rps is %.1f%% below the requested %@ rps", completed,
                            100 * (1 - completed / requested), r.requestedQPS))
        }
        if let fraction = r.errorFraction, fraction > 0.01 {
            w.append(String(format: "%.1f%% of requests failed or were never sent: the latency percentiles above are "
                            + "of responses only; 'all requests' counts every failure as not served within the "
                            + "timeout", fraction * 100))
        }
        if r.connectionsOpened > UInt64(r.connections) {
            w.append("\(r.connectionsOpened) connections were opened for \(r.connections) slots: the target closed "
                     + "connections, so some latencies include a new TCP handshake")
        }
        return w
    }
}

extension String {
    func padding(toLength n: Int) -> String {
        count >= n ? self : String(repeating: " ", count: n - count) + self
    }
}
