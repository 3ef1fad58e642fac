import Foundation
import LabCore
import LoadGen

/// How the load generator (`meshbench load`) is started: its settings come from the scenario's load and write its
/// command line.
struct LoadLaunch: Equatable {
    var spec: LoadSpec
    /// Where it writes its result (JSON), which the round reads back.
    var resultPath: String
    /// What its progress line on a terminal says.
    var progressLabel: String

    /// The URL it is pointed at, from the address of what it sends to.
    static func url(address: String) -> String { "http://\(address)/" }

    func arguments(url: String) -> [String] {
        var settings = LoadSettings(spec: spec, url: url)
        // In pods the load dials the server pod's address: inside the lab's own namespaces, with no route out.
        settings.allowRemote = URL(string: url)?.host.map { !HostPort.isLoopback($0) } ?? false
        return ["load"] + settings.arguments
            + LoadOutputOptions(json: resultPath, progressLabel: progressLabel).arguments
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
