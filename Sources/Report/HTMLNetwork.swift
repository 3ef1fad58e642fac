/// The page's network section: where each path ran (loopback or pods on one or two nodes), the hops a request
/// crosses, and in pods what the sidecars' interception did.
extension HTMLPage {
    func networkSection() -> String {
        let paths = report.paths.filter { $0.network != nil && $0.point == groups.first?.point }
        guard !paths.isEmpty else { return "" }
        var h = "<section id=\"network\"><h2>Network</h2>"
        h += "<p>Where the components ran and what a request crosses from the load generator to the app. In pods each "
            + "workload is a network namespace behind a veth on its node's bridge (198.18.0.0/15, nothing routed out); "
            + "with two nodes the node namespaces are joined by a veth pair. The sidecar path is intercepted as "
            + "istio-iptables does it (NAT REDIRECT, the sidecars' uid 1337 exempt).</p>"
        for p in paths {
            guard let n = p.network else { continue }
            let k = "\(p.key).network"
            h += "<h3><span class=\"swatch\" style=\"background:\(style(p).color)\"></span>\(htmlEscape(p.key))</h3>"
            h += "<p>" + Mark.text("\(k).topology", n.topology.rawValue)
                + (n.nodes.map { ", " + Mark.value("\(k).nodes", Double($0), .count) + " node" + ($0 == 1 ? "" : "s") } ?? "")
                + "</p>"
            if n.hops.isEmpty {
                h += "<p class=\"none\">not run in this topology</p>"
            } else {
                h += "<ol>" + n.hops.enumerated().map { "<li>" + Mark.text("\(k).hops.\($0.offset)", $0.element) + "</li>" }
                    .joined() + "</ol>"
            }
            if let counters = n.interception, !counters.isEmpty {
                h += "<table class=\"data\"><caption>Interception over all rounds (per pod)</caption><thead><tr><th>pod</th>"
                    + "<th>connections to the outbound sidecar</th><th>connections to the inbound sidecar</th>"
                    + "<th>conntrack entries (largest)</th></tr></thead><tbody>"
                for (pod, c) in counters.sorted(by: { $0.key < $1.key }) {
                    let a = "\(k).interception.\(pod)"
                    h += "<tr><td>\(htmlEscape(pod))</td><td class=\"num\">" + Mark.count("\(a).outbound_redirects", c.outboundRedirects)
                        + "</td><td class=\"num\">" + Mark.count("\(a).inbound_redirects", c.inboundRedirects)
                        + "</td><td class=\"num\">"
                        + (c.conntrackEntries.map { Mark.count("\(a).conntrack_entries", UInt64($0)) } ?? "<span class=\"none\">—</span>")
                        + "</td></tr>"
                }
                h += "</tbody></table>"
            }
            if let rules = n.interceptionRules, !rules.isEmpty {
                h += "<details><summary>iptables rules in each pod (<code>-t nat</code>)</summary><pre>"
                    + htmlEscape(rules.joined(separator: "\n")) + "</pre></details>"
            }
        }
        return h + "</section>"
    }
}
