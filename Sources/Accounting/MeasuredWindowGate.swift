import LabCore

/// Opens a round's accounting window when the load generator announces that its measured window has started, and
/// closes it when it announces the end (`MeasurementLine`), so that CPU, memory and host figures cover the interval
/// the latency and the rate describe — not the load generator's start-up, nor the warm-up, whose cost would
/// otherwise be divided by the measured window's rate.
///
/// The snapshots are taken when the orchestrator reads each line, a few milliseconds after the edge; how late they
/// were is kept (`startLagNanoseconds`, `endLagNanoseconds`) and reported, so a reader can see how well the two
/// windows agree.
public struct MeasuredWindowGate {
    /// Takes the window's start snapshot (`AccountingWindow.start` with the caller's components and clock).
    public typealias Opener = () throws -> AccountingWindow

    let open: Opener
    /// Called right after the end snapshot, for counters read beside the window (the BPF programs').
    let closed: () -> Void
    /// CLOCK_MONOTONIC nanoseconds: the clock the load generator's lines are in.
    let clock: () -> UInt64
    public private(set) var window: AccountingWindow?
    public private(set) var report: WindowReport?
    /// Why the window is missing or incomplete, when it is.
    public private(set) var note: String?
    public private(set) var startLagNanoseconds: UInt64?
    public private(set) var endLagNanoseconds: UInt64?
    private var linesSeen = 0

    public init(clock: @escaping () -> UInt64, closed: @escaping () -> Void = {}, open: @escaping Opener) {
        self.clock = clock
        self.closed = closed
        self.open = open
    }

    /// Reads the load generator's stdout lines (all of them so far; the ones seen before are skipped) and acts on a
    /// new edge. - Returns: true when it opened or closed the window.
    @discardableResult
    public mutating func observe(_ lines: [String]) -> Bool {
        guard lines.count > linesSeen else { return false }
        let fresh = lines[linesSeen...]
        linesSeen = lines.count
        var acted = false
        for line in fresh {
            guard let (edge, announced) = MeasurementLine.parse(line) else { continue }
            switch edge {
            case .start where window == nil && note == nil:
                do {
                    window = try open()
                    startLagNanoseconds = lag(after: announced)
                } catch {
                    note = "\(error)"
                }
                acted = true
            case .end where window != nil && report == nil:
                // Read together with the start, or ending before the window opened: the window would hold a few
                // microseconds of the wrong interval. Nothing is accounted, and the note says why.
                if let opened = window?.startNanoseconds, announced <= opened {
                    note = "the orchestrator read the measured window's start and end together (the window ended "
                        + "before it could open); nothing was accounted"
                    window = nil
                    acted = true
                    continue
                }
                endLagNanoseconds = lag(after: announced)
                finish()
                closed()
                acted = true
            default:
                continue
            }
        }
        return acted
    }

    /// After the load generator has exited: closes a window it never announced the end of (it was stopped early),
    /// and says when it announced no window at all.
    public mutating func loadExited() {
        if let window, report == nil {
            endLagNanoseconds = nil
            note = "the load generator announced no end of its measured window; the window closed when it exited"
            finish()
            closed()
        } else if window == nil, note == nil {
            note = "the load generator announced no measured window; nothing was accounted"
        }
    }

    private mutating func finish() {
        do {
            report = try window?.finish()
        } catch {
            note = "\(error)"
        }
    }

    private func lag(after announced: UInt64) -> UInt64 {
        let now = clock()
        return now > announced ? now - announced : 0
    }
}
