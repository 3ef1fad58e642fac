import Foundation
import LabCore

// The page's sections other than the charts and tables of a group: header, navigation, scenario, host, the
// frame of each group, eBPF counters and the Istio comparison.
extension HTMLPage {
    // MARK: Header, scenario, host

    func header() -> String {
        let s = report.scenario
        var h = "<header><h1>meshbench · \(htmlEscape(s.name))</h1>"
        if report.status == .partial {
            h += "<div class=\"banner partial\" role=\"alert\"><strong>PARTIAL RUN</strong> — "
            h += "status " + Mark.text("$.status", RunStatus.partial.rawValue) + ": "
            h += htmlEscape(report.statusReason ?? "the run stopped early; some paths or rounds are missing")
            h += "</div>"
        }
        h += "<dl class=\"meta\">"
        h += "<dt>run</dt><dd>" + Mark.text("$.run_id", report.runID) + "</dd>"
        h += "<dt>created</dt><dd>" + Mark.text("$.created_at", report.createdAt) + "</dd>"
        h += "<dt>status</dt><dd>"
        if let status = report.status {
            h += Mark.text("$.status", status.rawValue, cls: status == .partial ? "bad" : "good")
        } else {
            h += "complete (no status recorded)"
        }
        h += "</dd><dt>meshbench</dt><dd>" + Mark.text("$.meshbench_version", report.meshbenchVersion) + "</dd>"
        if let d = s.description { h += "<dt>description</dt><dd class=\"desc\">\(htmlEscape(d))</dd>" }
        h += "</dl></header>"
        return h
    }

    func nav() -> String {
        var links = [("scenario", "Scenario"), ("host", "Host")]
        if isSweep { links.append(("sweep", "Sweep")) }
        for (i, g) in groups.enumerated() { links.append(("group-\(i)", g.point ?? "Paths")) }
        if report.paths.contains(where: { $0.network != nil }) { links.append(("network", "Network")) }
        if report.paths.contains(where: { $0.bpf != nil }) { links.append(("ebpf", "eBPF counters")) }
        links.append(("istio", "Istio comparison"))
        return "<nav>" + links.map { "<a href=\"#\($0.0)\">\(htmlEscape($0.1))</a>" }.joined(separator: " · ") + "</nav>"
    }

    func scenarioSection() -> String {
        let s = report.scenario
        let l = s.load
        var h = "<section id=\"scenario\"><h2>Scenario</h2><div class=\"cols\">"
        h += "<table class=\"kv\"><caption>Load (the same through every path)</caption>"
        h += row("paths", s.paths.enumerated().map { Mark.text("$.scenario.paths.\($0.offset)", $0.element.rawValue) }.joined(separator: ", "))
        h += row("rounds", Mark.value("$.scenario.rounds", Double(s.rounds), .count) + " (interleaved)")
        switch l.qps {
        case .max: h += row("rate", Mark.text("$.scenario.load.qps", QPS.maxWord) + " (closed loop)")
        case .rate(let r): h += row("rate", Mark.value("$.scenario.load.qps", r, .plain) + " requests/s (open loop)")
        }
        h += row("connections", Mark.value("$.scenario.load.connections", Double(l.connections), .count))
        switch l.stop {
        case .duration(let d): h += row("duration", Mark.text("$.scenario.load.duration", d.description) + " per round")
        case .requests(let n): h += row("requests", Mark.value("$.scenario.load.requests", Double(n), .count) + " per round")
        }
        h += row("warm-up", Mark.text("$.scenario.load.warmup", l.warmup.description))
        h += row("protocol", Mark.text("$.scenario.load.protocol", l.protocolKind.rawValue) + ", "
                 + Mark.value("$.scenario.load.streams", Double(l.streams), .count) + " stream(s) per connection, "
                 + Mark.text("$.scenario.load.method", l.method.rawValue))
        h += row("request body", Mark.value("$.scenario.load.request_size", Double(l.requestSize), .bytes))
        h += row("response body", Mark.value("$.scenario.load.response_size", Double(l.responseSize), .bytes))
        h += row("timeout", Mark.text("$.scenario.load.timeout", l.timeout.description))
        h += row("server", "delay " + Mark.text("$.scenario.server.delay", s.server.delay.description) + ", "
                 + Mark.value("$.scenario.server.threads", Double(s.server.threads), .count) + " thread(s)")
        if let sweep = s.sweep {
            let unit = sweep.axis.unit == sweep.axis.rawValue ? "" : " (\(htmlEscape(sweep.axis.unit)))"
            h += row("sweep", "<strong>\(htmlEscape(sweep.axis.rawValue))</strong>\(unit): "
                     + sweep.values.enumerated().map { Mark.value("$.scenario.sweep.\(sweep.axis.rawValue).\($0.offset)", $0.element, .plain) }.joined(separator: ", "))
        }
        h += "</table>"
        h += "<table class=\"kv\"><caption>Sidecar and placement</caption>"
        let sc = s.sidecar
        h += row("sidecar impl", sc.implementations.enumerated().map { Mark.text("$.scenario.sidecar.impl.\($0.offset)", $0.element) }.joined(separator: ", "))
        h += row("hops", Mark.value("$.scenario.sidecar.hops", Double(sc.hops), .count)
                 + (sc.hops == 2 ? " (outbound and inbound sidecar, Istio's topology)" : " (outbound sidecar only)"))
        h += row("features", sc.features.isEmpty ? "none" : sc.features.enumerated().map { Mark.text("$.scenario.sidecar.features.\($0.offset)", $0.element.rawValue) }.joined(separator: ", "))
        h += row("proxy threads", Mark.value("$.scenario.sidecar.threads", Double(sc.threads), .count))
        func cpus(_ c: [Int]?, _ key: String) -> String {
            guard let c else {
                // Not set in the scenario: say where the orchestrator's default put it, as read back from the kernel.
                let component = key == "mesh" ? "sidecar-outbound" : key
                let ran = report.paths.lazy.compactMap { $0.components[component]?.cpus }.first { !$0.isEmpty }
                return ran.map { "default (ran on CPUs " + $0.map(String.init).joined(separator: ",") + ")" }
                    ?? "default"
            }
            return "CPUs " + c.enumerated().map { Mark.value("$.scenario.cpus.\(key).\($0.offset)", Double($0.element), .count) }.joined(separator: ",")
        }
        h += row("load generator", cpus(s.cpus.load, "load"))
        h += row("server", cpus(s.cpus.server, "server"))
        h += row("mesh", cpus(s.cpus.mesh, "mesh"))
        h += "</table>"
        h += "<table class=\"kv\"><caption>Run</caption>"
        h += row("command", "<code>" + htmlEscape(report.command.joined(separator: " ")) + "</code>")
        if let f = report.scenarioFile { h += row("scenario file", Mark.text("$.scenario_file", f, tag: "code")) }
        if let st = report.statistics {
            h += row("statistics", Mark.text("$.statistics.method", st.method))
            var interval = Mark.value("$.statistics.confidence", st.confidence, .plain) + " target coverage"
            if let minimum = st.minimumRounds {
                interval += ", none (n/a) below " + Mark.value("$.statistics.minimum_rounds", Double(minimum), .count)
                    + " rounds"
            }
            if let resamples = st.resamples, let seed = st.seed {
                interval += ", " + Mark.value("$.statistics.resamples", Double(resamples), .count)
                    + " bootstrap resamples, seed " + Mark.count("$.statistics.seed", seed, format: .plain)
            }
            h += row("interval", interval)
            if let seed = report.roundOrderSeed {
                h += row("round order", "drawn at random per round (see each round's position), seed "
                         + Mark.count("$.round_order_seed", seed, format: .plain))
            }
        } else if report.paths.contains(where: { $0.stats != nil }) {
            h += row("statistics", "medians over rounds with 95% intervals; the method is not recorded in this report")
        } else {
            h += row("statistics", "no medians or intervals in this report (figures are over all rounds pooled)")
        }
        h += "</table></div></section>"
        return h
    }

    func hostSection() -> String {
        let host = report.host
        var h = "<section id=\"host\"><h2>Host</h2><table class=\"kv\">"
        h += row("hostname", Mark.text("$.host.hostname", host.hostname))
        h += row("kernel", Mark.text("$.host.kernel", host.kernel))
        h += row("CPUs", Mark.value("$.host.cpus", Double(host.cpus), .count))
        h += row("CPU model", host.cpuModel.map { Mark.text("$.host.cpu_model", $0) } ?? "unknown")
        h += row("memory", host.memoryBytes.map { Mark.value("$.host.memory_bytes", Double($0), .bytesAsGiB) } ?? "unknown")
        h += row("cgroups", Mark.text("$.host.cgroup_layout", host.cgroupLayout)
                 + (host.cgroupDetail.map { " — " + Mark.text("$.host.cgroup_detail", $0) } ?? ""))
        h += row("libcurl", host.libcurl.map { Mark.text("$.host.libcurl", $0, cls: "small") } ?? "unknown")
        h += row("root", host.isRoot ? "yes" : "no (cgroup and eBPF paths may be skipped)")
        h += "</table></section>"
        return h
    }

    func row(_ k: String, _ v: String) -> String { "<tr><th scope=\"row\">\(htmlEscape(k))</th><td>\(v)</td></tr>" }

    // MARK: One group of paths (the whole run, or one sweep point)

    mutating func groupSection(index: Int, point: String?, paths: [PathReport]) -> String {
        var h = "<section id=\"group-\(index)\">"
        h += point.map { "<h2>Point <code>\(htmlEscape($0))</code></h2>" } ?? "<h2>Paths</h2>"
        let label = point.map { " at \($0)" } ?? ""
        var charts = ""
        if let svg = latencyCurves(paths, label: label) { charts += figure(svg, caption: nil) }
        if let svg = addedLatencyChart(paths, label: label) { charts += figure(svg, caption: nil) }
        if let svg = cpuChart(paths, label: label) { charts += figure(svg, caption: nil) }
        if let svg = memoryChart(paths, label: label) { charts += figure(svg, caption: nil) }
        h += charts.isEmpty ? "<p>No path in this group has measurements to chart.</p>" : charts
        h += overviewTable(paths)
        h += latencyTable(paths)
        h += addedLatencyTable(paths)
        h += costTable(paths)
        h += componentsTable(paths)
        h += roundsTable(paths)
        h += "</section>"
        return h
    }

    // MARK: eBPF and Istio

    func ebpfSection() -> String {
        let withBPF = report.paths.filter { $0.bpf != nil }
        guard !withBPF.isEmpty else { return "" }
        var h = "<section id=\"ebpf\"><h2>eBPF counters</h2><p>The kernel programs' own counters, summed over rounds "
        h += "(run_cnt and run_time_ns from the kernel's program stats; redirects and misses from sk_msg; maps' memlock from fdinfo).</p>"
        for p in withBPF {
            guard let b = p.bpf else { continue }
            let k = "\(p.key).bpf"
            h += "<h3><span class=\"swatch\" style=\"background:\(style(p).color)\"></span>\(htmlEscape(p.key))</h3>"
            h += "<p>sk_msg redirects " + Mark.count("\(k).redirects", b.redirects) + ", misses (peer not in the sockhash) "
                + Mark.count("\(k).misses", b.misses) + "</p>"
            if let n = b.packets {
                h += "<p>tc on the pods' veths and the node link: packets sent into a pod (bpf_redirect_peer) "
                    + Mark.count("\(k).packets.peer", n.peer) + ", toward the other node (bpf_redirect_neigh) "
                    + Mark.count("\(k).packets.neigh", n.neigh) + ", left to the bridge and stack "
                    + Mark.count("\(k).packets.passed", n.passed) + ", dropped by a failed redirect "
                    + Mark.count("\(k).packets.failed", n.failed) + "</p>"
            }
            h += "<div class=\"cols\">"
            h += "<table class=\"data\"><caption>Programs</caption><thead><tr><th>program</th><th>run_cnt</th><th>run_time_ns</th><th>ns/run</th></tr></thead><tbody>"
            for (i, prog) in b.programs.enumerated() {
                h += "<tr><td><code>\(htmlEscape(prog.name))</code></td><td class=\"num\">" + Mark.count("\(k).programs.\(i).run_cnt", prog.runCount)
                h += "</td><td class=\"num\">" + Mark.count("\(k).programs.\(i).run_time_ns", prog.runTimeNanoseconds) + "</td><td class=\"num\">"
                h += (prog.nanosecondsPerRun.map { Mark.value("\(k).programs.\(i).ns_per_run", $0, .nanoseconds) } ?? "<span class=\"none\">—</span>") + "</td></tr>"
            }
            h += "</tbody></table>"
            if !b.perService.isEmpty {
                h += "<table class=\"data\"><caption>Per service</caption><thead><tr><th>service</th><th>conns</th><th>proxy → inbound</th><th>requests</th><th>messages</th><th>bytes</th></tr></thead><tbody>"
                for (name, s) in b.perService.sorted(by: { $0.key < $1.key }) {
                    let a = "\(k).per_service.\(name)"
                    h += "<tr><td>\(htmlEscape(name))</td><td class=\"num\">" + Mark.count("\(a).conns", s.conns) + "</td><td class=\"num\">"
                        + (s.inbound.map { Mark.count("\(a).inbound", $0) } ?? "<span class=\"none\">—</span>") + "</td><td class=\"num\">"
                        + Mark.count("\(a).requests", s.requests) + "</td><td class=\"num\">" + Mark.count("\(a).messages", s.messages)
                        + "</td><td class=\"num\">" + Mark.count("\(a).bytes", s.bytes, format: .bytes) + "</td></tr>"
                }
                h += "</tbody></table>"
            }
            if let maps = b.mapsMemlockBytes, !maps.isEmpty {
                h += "<table class=\"data\"><caption>Maps this path uses: kernel memory charged (memlock, the preallocated capacity) and entries in use at the end of the window</caption><thead><tr><th>map</th><th>memlock</th><th>entries in use / capacity</th></tr></thead><tbody>"
                for (name, bytes) in maps.sorted(by: { $0.key < $1.key }) {
                    var entries = "—"
                    if let used = b.mapsEntriesInUse?[name] {
                        entries = Mark.count("\(k).maps_entries_in_use.\(name)", UInt64(used))
                            + (b.mapsMaxEntries?[name].map { " / " + Mark.count("\(k).maps_max_entries.\(name)", UInt64($0)) } ?? "")
                    }
                    h += "<tr><td><code>\(htmlEscape(name))</code></td><td class=\"num\">" + Mark.count("\(k).maps_memlock_bytes.\(name)", bytes, format: .bytes) + "</td><td class=\"num\">\(entries)</td></tr>"
                }
                let total = b.totalMapsMemlockBytes ?? 0
                h += "<tr class=\"total\"><td>all maps</td><td class=\"num\"><span \(Mark.attrs("\(k).maps_memlock_bytes", Double(total), .bytesAsMB)) data-agg=\"sum\">\(htmlEscape(DisplayFormat.bytesAsMB.string(Double(total))))</span></td><td></td></tr>"
                h += "</tbody></table>"
            }
            h += "</div>"
        }
        return h + "</section>"
    }

    func istioSection() -> String {
        var h = "<section id=\"istio\"><h2>Istio comparison</h2>"
        guard let rows = report.istioComparison, !rows.isEmpty else {
            h += "<p class=\"note\">This report has no <code>istio_comparison</code> rows. The charts' reference lines use "
            h += "meshbench's built-in copy of Istio's published figures: "
            h += IstioReference.builtIn.map { htmlEscape("\($0.who) \($0.shown) \($0.unit)") }.joined(separator: "; ") + ".</p>"
            return h + "</section>"
        }
        h += "<p>Istio's published figures next to what this run measured for the comparable quantity. Read the caveat "
        h += "before the ratio: most of Istio's setups differ from a single loopback host, and each caveat ends with where "
        h += "this run's setup differs. There is no ratio where the difference is not significant (or has no interval), "
        h += "is not above zero, or where the two numbers measure different functions.</p>"
        h += "<table class=\"data istio\"><thead><tr><th>figure</th><th>Istio</th><th>version</th><th>source</th><th>caveat</th>"
        h += "<th>path</th><th>measured</th><th>ratio</th></tr></thead><tbody>"
        for (i, r) in rows.enumerated() {
            let a = "$.istio_comparison.\(i)"
            h += "<tr\(r.applicable ? "" : " class=\"na\"")><td>" + Mark.text("\(a).figure", r.figure) + "</td>"
            h += "<td class=\"num\">" + Mark.value("\(a).istio_value", r.istioValue, .plain) + " " + Mark.text("\(a).unit", r.unit) + "</td>"
            h += "<td>" + Mark.text("\(a).istio_version", r.istioVersion) + "</td>"
            h += "<td class=\"small src\">" + Mark.text("\(a).source", r.source) + "</td>"
            h += "<td class=\"small caveat\">" + Mark.text("\(a).caveat", r.caveat) + "</td>"
            h += "<td class=\"nowrap\">" + (r.path.map { Mark.text("\(a).path", $0, tag: "code") } ?? "<span class=\"none\">—</span>") + "</td>"
            if !r.applicable {
                h += "<td colspan=\"2\" class=\"na-cell\">not applicable</td></tr>"
                continue
            }
            h += "<td class=\"num\">" + (r.measured.map { Mark.value("\(a).measured", $0, .sig3) + " " + htmlEscape(r.unit) } ?? "<span class=\"none\">not measured</span>")
            if let u = r.measuredUncorrected {
                h += "<div class=\"sub\">uncorrected (fortio's basis): " + Mark.value("\(a).measured_uncorrected", u, .sig3) + " " + htmlEscape(r.unit) + "</div>"
            }
            h += "</td><td class=\"num\">" + (r.ratio.map { Mark.value("\(a).ratio", $0, .ratio) } ?? "<span class=\"none\">—</span>")
            if let why = r.noRatio { h += "<div class=\"small\">no ratio: " + Mark.text("\(a).no_ratio", why) + "</div>" }
            h += "</td></tr>"
        }
        return h + "</tbody></table></section>"
    }
}
