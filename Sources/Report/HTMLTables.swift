import Foundation
import LabCore

// The tables of one group of paths: requests, latency, added latency, mesh cost, per component, per round.
extension HTMLPage {
    /// The name a chart or table shows for a path: inside one sweep point the point is in the heading already.
    func shortName(_ p: PathReport) -> String { p.name }

    func pathCell(_ p: PathReport) -> String {
        let st = style(p)
        return "<th scope=\"row\"><span class=\"swatch\" style=\"background:\(st.color)\"></span>\(htmlEscape(p.key))</th>"
    }

    func statusCell(_ p: PathReport) -> String {
        var c = "<td>" + Mark.text("\(p.key).status", p.status.rawValue, cls: "status-\(p.status.rawValue)")
        if let r = p.reason { c += "<div class=\"reason\">\(htmlEscape(r))</div>" }
        return c + "</td>"
    }

    func measured(_ p: PathReport) -> Bool { p.status != .skipped && p.load.requests > 0 }

    func overviewTable(_ paths: [PathReport]) -> String {
        var h = "<table class=\"data\"><caption>Requests and rate</caption>"
        h += "<thead><tr><th>path</th><th>status</th><th>requests</th><th>ok</th><th>errors (by class)</th><th>achieved rps</th><th>median rps over rounds [interval]</th><th>rounds</th></tr></thead><tbody>"
        for p in paths {
            h += "<tr>" + pathCell(p) + statusCell(p)
            guard measured(p) else {
                h += "<td colspan=\"6\" class=\"none\">not measured</td></tr>"
                continue
            }
            h += "<td class=\"num\">" + Mark.count("\(p.key).requests", p.load.requests) + "</td>"
            h += "<td class=\"num\">" + Mark.count("\(p.key).ok", p.load.ok) + "</td>"
            h += "<td class=\"num\">" + Mark.count("\(p.key).errors", p.load.errors)
            let classes = p.load.errorClasses.filter { $0.value > 0 }.sorted { $0.key < $1.key }
            if !classes.isEmpty {
                h += "<div class=\"sub\">" + classes.map { "\(htmlEscape($0.key)) " + Mark.count("\(p.key).error_classes.\($0.key)", $0.value) }.joined(separator: ", ") + "</div>"
            }
            h += "</td><td class=\"num\">" + Mark.value("\(p.key).achieved_rps", p.load.achievedRPS, .fixed1) + "</td>"
            h += "<td class=\"num\">" + estimate(p.stats?.achievedRPS, "\(p.key).stats.achieved_rps", .fixed1) + "</td>"
            h += "<td class=\"num\">\(p.rounds.count)</td></tr>"
        }
        return h + "</tbody></table>"
    }

    /// "median [low, high]" with each number marked; a dash when there is no estimate.
    func estimate(_ e: Estimate?, _ address: String, _ f: DisplayFormat) -> String {
        guard let e else { return "<span class=\"none\">—</span>" }
        var s = Mark.value("\(address).median", e.median, f)
        if e.fewRequests == true {
            s += "<span class=\"few\" title=\"a round had fewer than 10/(1−q) requests: too few for this percentile\">†</span>"
        }
        if let ci = e.ci95, ci.count == 2 {
            s += " <span class=\"ci\">[" + Mark.value("\(address).ci95.0", ci[0], f) + ", "
                + Mark.value("\(address).ci95.1", ci[1], f) + "]</span>"
        } else {
            s += " <span class=\"ci none\" title=\"fewer than \(RunStatistics.minimumRounds) rounds: no interval\">[n/a]</span>"
        }
        return s
    }

    /// Two tables, one estimator each: medians over rounds with their intervals (what added latency is built from),
    /// then every round pooled into one histogram (the only figures an older report has).
    func latencyTable(_ paths: [PathReport]) -> String {
        let pcts = [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9")]
        var h = "<p class=\"note\">Latency from the intended start (corrected for coordinated omission).</p>"
        if paths.contains(where: { $0.stats != nil }) {
            h += "<table class=\"data\"><caption>Latency: median over rounds [interval; n/a below "
                + "\(RunStatistics.minimumRounds) rounds]</caption>"
            h += "<thead><tr><th>path</th>" + pcts.map { "<th>\($0.1)</th>" }.joined() + "</tr></thead><tbody>"
            for p in paths {
                h += "<tr>" + pathCell(p)
                guard measured(p), let stats = p.stats else {
                    h += "<td colspan=\"4\" class=\"none\">not measured</td></tr>"
                    continue
                }
                for pct in pcts {
                    h += "<td class=\"num\">" + estimate(stats.latencyUs[pct.0], "\(p.key).stats.latency_us.\(pct.0)", .latency) + "</td>"
                }
                h += "</tr>"
            }
            h += "</tbody></table>"
        }
        h += "<table class=\"data\"><caption>Latency: all rounds pooled</caption>"
        h += "<thead><tr><th>path</th>" + pcts.map { "<th>\($0.1)</th>" }.joined() + "<th>max</th><th>mean</th></tr></thead><tbody>"
        for p in paths {
            h += "<tr>" + pathCell(p)
            guard measured(p) else {
                h += "<td colspan=\"6\" class=\"none\">not measured</td></tr>"
                continue
            }
            let l = p.load.latencyUs
            let values = [l.p50, l.p90, l.p99, l.p999]
            for (i, pct) in pcts.enumerated() {
                h += "<td class=\"num\">" + Mark.value("\(p.key).latency_us.\(pct.0)", values[i], .latency) + "</td>"
            }
            h += "<td class=\"num\">" + Mark.value("\(p.key).latency_us.max", l.max, .latency) + "</td>"
            h += "<td class=\"num\">" + Mark.value("\(p.key).latency_us.mean", l.mean, .latency) + "</td></tr>"
        }
        return h + "</tbody></table>"
    }

    func addedLatencyTable(_ paths: [PathReport]) -> String {
        let withAdded = paths.filter { $0.addedLatencyUs != nil }
        guard !withAdded.isEmpty else {
            if paths.contains(where: { RunStatistics.isClosedLoop($0, in: report) }) {
                return "<p class=\"note\">No added latency: a closed loop runs each path at its own throughput, so their "
                    + "latencies are not comparable; read achieved rps and mesh CPU per 1000 rps instead.</p>"
            }
            return "<p class=\"note\">No added latency: this group has no measured <code>direct</code> baseline.</p>"
        }
        var h = "<p class=\"note\">Each path's latency minus <code>direct</code>'s in this run: the median over rounds of "
        h += "the per-round differences, with its order-statistic interval (n/a below \(RunStatistics.minimumRounds) rounds); "
        h += "<span class=\"ns\">not significant</span> where the interval includes 0.</p>"
        h += "<table class=\"data\"><caption>Added latency vs direct: median of per-round differences</caption>"
        h += "<thead><tr><th>path</th><th>+p50</th><th>+p90</th><th>+p99</th><th>how</th></tr></thead><tbody>"
        for p in withAdded {
            guard let a = p.addedLatencyUs else { continue }
            h += "<tr>" + pathCell(p)
            for pct in ["p50", "p90", "p99"] {
                let v = a.value(pct) ?? 0
                h += "<td class=\"num\">" + Mark.value("\(p.key).added_latency_us.\(pct)", v, .signedLatency)
                if a.fewRequests?.contains(pct) == true {
                    h += "<span class=\"few\" title=\"a round had fewer than 10/(1−q) requests: too few for this percentile\">†</span>"
                }
                if let ci = a.ci95?[pct], ci.count == 2 {
                    h += "<div class=\"sub ci\">[" + Mark.value("\(p.key).added_latency_us.ci95.\(pct).0", ci[0], .signedLatency)
                        + ", " + Mark.value("\(p.key).added_latency_us.ci95.\(pct).1", ci[1], .signedLatency) + "]</div>"
                } else {
                    h += "<div class=\"sub ci none\">[n/a]</div>"
                }
                if a.significant?[pct] == false {
                    h += "<div><span class=\"ns\" data-not-significant=\"\(htmlEscape(p.key)).\(pct)\" title=\"the interval includes 0: this run cannot tell this path from direct\">not significant</span></div>"
                }
                h += "</td>"
            }
            h += "<td class=\"small\">" + htmlEscape(a.estimate ?? "difference of the pooled percentiles") + "; basis "
                + Mark.text("\(p.key).added_latency_us.basis", a.basis) + "</td></tr>"
        }
        return h + "</tbody></table>"
    }

    func costTable(_ paths: [PathReport]) -> String {
        let withCost = paths.filter { $0.cpu != nil || $0.memoryMB != nil }
        guard !withCost.isEmpty else { return "<p class=\"note\">No CPU or memory accounting in this group (no cgroups?).</p>" }
        var h = "<p class=\"note\">Mesh cost: CPU from the components' cgroups over the measured windows; memory peaks of "
        h += "the largest mesh component (per proxy, as Istio states it).</p><table class=\"data\"><caption>Mesh cost</caption>"
        h += "<thead><tr><th>path</th><th>mesh vCPU / 1000 rps / proxy</th><th>mesh vCPU / 1000 rps</th><th>mesh vCPU</th>"
        h += "<th>total vCPU</th><th>host softirq</th><th>window</th><th>cgroup peak / proxy</th><th>RSS peak / proxy</th><th>sources</th></tr></thead><tbody>"
        for p in withCost {
            h += "<tr>" + pathCell(p)
            func opt(_ v: Double?, _ a: String, _ f: DisplayFormat) -> String {
                "<td class=\"num\">" + (v.map { Mark.value(a, $0, f) } ?? "<span class=\"none\">—</span>") + "</td>"
            }
            let c = p.cpu
            h += opt(c?.meshVCPUPer1000RPSPerProxy, "\(p.key).cpu.mesh_vcpu_per_1000rps_per_proxy", .sig3)
            h += opt(c?.meshVCPUPer1000RPS, "\(p.key).cpu.mesh_vcpu_per_1000rps", .sig3)
            h += opt(c?.meshVCPU, "\(p.key).cpu.mesh_vcpu", .sig3)
            h += opt(c?.totalVCPU, "\(p.key).cpu.total_vcpu", .sig3)
            h += opt(c?.hostSoftirqSeconds, "\(p.key).cpu.host_softirq_s", .seconds)
            h += opt(c?.windowSeconds, "\(p.key).cpu.window_s", .seconds)
            h += opt(p.memoryMB?.meshPeak, "\(p.key).memory_mb.mesh_peak", .megabytes)
            h += opt(p.memoryMB?.meshRSSPeak, "\(p.key).memory_mb.mesh_rss_peak", .megabytes)
            var src: [String] = []
            if let s = c?.source { src.append("CPU: " + Mark.text("\(p.key).cpu.source", s)) }
            if let s = p.memoryMB?.source { src.append("memory: " + Mark.text("\(p.key).memory_mb.source", s)) }
            h += "<td class=\"small src\">" + src.joined(separator: "<br>") + "</td></tr>"
        }
        return h + "</tbody></table>"
    }

    func componentsTable(_ paths: [PathReport]) -> String {
        var rows = ""
        for p in paths {
            var names = Set(p.components.keys)
            if let c = p.cpu { names.formUnion(c.components.keys) }
            if let m = p.memoryMB { names.formUnion(m.components.keys) }
            for name in names.sorted() {
                rows += "<tr>" + pathCell(p) + "<td>\(htmlEscape(name))</td>"
                func opt(_ v: Double?, _ a: String, _ f: DisplayFormat) -> String {
                    "<td class=\"num\">" + (v.map { Mark.value(a, $0, f) } ?? "<span class=\"none\">—</span>") + "</td>"
                }
                let cpu = p.cpu?.components[name]
                let mem = p.memoryMB?.components[name]
                let base = "\(p.key).cpu.components.\(name)"
                let mbase = "\(p.key).memory_mb.components.\(name)"
                rows += opt(cpu?.vcpu, "\(base).vcpu", .sig3) + opt(cpu?.userSeconds, "\(base).user_s", .seconds)
                    + opt(cpu?.systemSeconds, "\(base).sys_s", .seconds)
                rows += opt(mem?.peak, "\(mbase).peak", .megabytes) + opt(mem?.current, "\(mbase).current", .megabytes)
                    + opt(mem?.rssPeak, "\(mbase).rss_peak", .megabytes) + opt(mem?.rss, "\(mbase).rss", .megabytes)
                if let placement = p.components[name] {
                    rows += "<td>" + (placement.cpus.isEmpty ? "any" : placement.cpus.map(String.init).joined(separator: ","))
                        + "</td><td class=\"small path\">" + htmlEscape(placement.cgroup ?? "none") + "</td>"
                } else {
                    rows += "<td class=\"none\">—</td><td class=\"none\">—</td>"
                }
                rows += "</tr>"
            }
        }
        guard !rows.isEmpty else { return "" }
        var h = "<details><summary>Per component: CPU, memory and placement</summary><table class=\"data\">"
        h += "<thead><tr><th>path</th><th>component</th><th>vCPU</th><th>user</th><th>sys</th><th>cgroup peak</th><th>cgroup now</th>"
        h += "<th>RSS peak</th><th>RSS</th><th>CPUs</th><th>cgroup</th></tr></thead><tbody>"
        return h + rows + "</tbody></table></details>"
    }

    func roundsTable(_ paths: [PathReport]) -> String {
        let total = paths.reduce(0) { $0 + $1.rounds.count }
        guard total > 0 else { return "" }
        var h = "<details><summary>Per round (\(total) rows) with each round's events</summary><table class=\"data\">"
        h += "<thead><tr><th>path</th><th>round</th><th>requests</th><th>ok</th><th>errors</th><th>rps</th><th>duration</th>"
        h += "<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>vCPU / 1000 rps</th><th>events</th></tr></thead><tbody>"
        for p in paths {
            for (i, r) in p.rounds.enumerated() {
                let a = "\(p.key).rounds.\(i)"
                h += "<tr>" + pathCell(p) + "<td class=\"num\">" + Mark.value("\(a).round", Double(r.round), .count) + "</td>"
                h += "<td class=\"num\">" + Mark.count("\(a).requests", r.requests) + "</td>"
                h += "<td class=\"num\">" + Mark.count("\(a).ok", r.ok) + "</td>"
                h += "<td class=\"num\">" + Mark.count("\(a).errors", r.errors)
                let classes = (r.errorClasses ?? [:]).filter { $0.value > 0 }.sorted { $0.key < $1.key }
                if !classes.isEmpty {
                    h += "<div class=\"sub\">" + classes.map { "\(htmlEscape($0.key)) " + Mark.count("\(a).error_classes.\($0.key)", $0.value) }.joined(separator: ", ") + "</div>"
                }
                h += "</td><td class=\"num\">" + Mark.value("\(a).achieved_rps", r.achievedRPS, .fixed1) + "</td>"
                h += "<td class=\"num\">" + Mark.value("\(a).duration_s", r.durationSeconds, .seconds) + "</td>"
                for (k, v) in [("p50", r.latencyUs.p50), ("p90", r.latencyUs.p90), ("p99", r.latencyUs.p99), ("p999", r.latencyUs.p999)] {
                    h += "<td class=\"num\">" + Mark.value("\(a).latency_us.\(k)", v, .latency) + "</td>"
                }
                h += "<td class=\"num\">" + (r.meshVCPUPer1000RPS.map { Mark.value("\(a).mesh_vcpu_per_1000rps", $0, .sig3) } ?? "<span class=\"none\">—</span>") + "</td>"
                let events = r.events ?? []
                h += "<td class=\"events\">" + (events.isEmpty ? "<span class=\"none\">none</span>"
                    : "<ul>" + events.enumerated().map { Mark.text("\(a).events.\($0.offset)", $0.element, tag: "li") }.joined() + "</ul>") + "</td></tr>"
            }
        }
        return h + "</tbody></table></details>"
    }
}
