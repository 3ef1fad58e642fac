import Foundation
import LabCore

/// How the load generator (`meshbench load`) is started: the one place its command line is written.
struct LoadLaunch: Equatable {
    var spec: LoadSpec
    /// Where it writes its result (JSON), which the round reads back.
    var resultPath: String
    /// What its progress line on a terminal says.
    var progressLabel: String

    /// The URL it is pointed at, from the address of what it sends to.
    static func url(address: String) -> String { "http://\(address)/" }

    func arguments(url: String) -> [String] {
        var args = ["load", url, "--qps", spec.qps.description,
                    "--connections", String(spec.connections), "--method", spec.method.rawValue,
                    "--body-size", String(spec.requestSize), "--warmup", spec.warmup.description,
                    "--timeout", spec.timeout.description, "--json", resultPath, "--quiet",
                    "--progress-label", progressLabel]
        switch spec.stop {
        case .duration(let d): args += ["--duration", d.description]
        case .requests(let n): args += ["--requests", String(n)]
        }
        if spec.protocolKind == .h2 { args += ["--http2", "--streams", String(spec.streams)] }
        return args
    }

    /// The longest a load run may take before it is considered hung: its plan plus two timeouts and a margin.
    var longestRunSeconds: TimeInterval {
        var planned = spec.warmup.seconds + 2 * spec.timeout.seconds + 30
        switch (spec.stop, spec.qps) {
        case (.duration(let d), _): planned += d.seconds
        case (.requests(let n), .rate(let q)): planned += Double(n) / q
        case (.requests, .max): planned += 600
        }
        return planned
    }
}
