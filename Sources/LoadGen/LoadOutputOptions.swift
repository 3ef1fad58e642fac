import ArgumentParser

/// Where `meshbench load` writes what it measured, apart from what it measures (`LoadSettings`): the orchestrator
/// asks for the JSON result in a file and no summary, a user at a terminal for the summary.
public struct LoadOutputOptions: ParsableArguments, Sendable, Equatable {
    @Option(help: "Write meshbench's JSON result here.")
    public var json: String?

    @Option(help: "Write fortio's result JSON here (readable by `fortio report`).")
    public var fortioJson: String?

    @Option(help: "A label for the fortio result.")
    public var labels: String?

    @Flag(name: [.short, .long], help: "Print no summary.")
    public var quiet = false

    /// What the progress line on a terminal starts with (the orchestrator's round and path).
    @Option(help: .hidden)
    public var progressLabel: String?

    /// Print `measure start NS` / `measure end NS` on standard output at the measured window's edges
    /// (`MeasurementLine`), for the orchestrator's accounting.
    @Flag(help: .hidden)
    public var announceMeasurement = false

    public init() {}

    /// The output a component started by the orchestrator uses: the result in `json`, on standard output only the
    /// measured window's edges.
    public init(json: String, progressLabel: String?) {
        // Set on a copy: see `LoadSettings.init(spec:url:threads:)`.
        var o = LoadOutputOptions()
        o.json = json
        o.fortioJson = nil
        o.labels = nil
        o.quiet = true
        o.progressLabel = progressLabel
        o.announceMeasurement = true
        self = o
    }

    public var arguments: [String] {
        var args: [String] = []
        if let json { args += ["--json", json] }
        if let fortioJson { args += ["--fortio-json", fortioJson] }
        if let labels { args += ["--labels", labels] }
        if quiet { args.append("--quiet") }
        if let progressLabel { args += ["--progress-label", progressLabel] }
        if announceMeasurement { args.append("--announce-measurement") }
        return args
    }

    public static func == (a: LoadOutputOptions, b: LoadOutputOptions) -> Bool {
        a.json == b.json && a.fortioJson == b.fortioJson && a.labels == b.labels && a.quiet == b.quiet
            && a.progressLabel == b.progressLabel && a.announceMeasurement == b.announceMeasurement
    }
}
