import Accounting
import LabCore
import Report

/// What one round of one path produced.
struct RoundOutcome {
    var result: LoadResult
    var placement: [String: ComponentPlacement]
    var usage: WindowReport?
    /// CPU from the load generator's launch to the start of the measured window (its start-up and the warm-up).
    var warmup: WindowReport? = nil
    /// Resident set of the long-running components at the end of the load.
    var residentSets: [String: ResidentSet]
    /// The kernel programs' counters (eBPF paths).
    var bpf: PathBPF?
    /// Faults injected and what the components did during the round, for the report's `events`.
    var events: [String] = []
    /// How late the accounting snapshots were against the measured window's announced edges, in seconds.
    var windowLag: (start: Double?, end: Double?) = (nil, nil)
    /// In pods with interception: each pod's redirect counts and conntrack entries at the end of the round.
    var interception: [String: InterceptionCounters]? = nil
    /// On the ambient path: each node proxy's tunnel counters at the end of the round.
    var tunnels: [String: TunnelCounters]? = nil
    /// What each data-plane sidecar counted itself (its definition's stats), by component.
    var proxyStats: [String: [String: Double]]? = nil
}

/// The run was asked to stop (SIGINT/SIGTERM) while a round's load was running.
enum RoundInterrupted: Error {
    case bySignal
}
