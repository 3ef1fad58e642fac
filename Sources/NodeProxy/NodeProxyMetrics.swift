import Prometheus

/// The node proxy's L4 telemetry in the Prometheus text format, made from its counts at each scrape (a fresh registry
/// each time: the counts are the proxy's own, kept in `NodeProxyStats`). Names follow ztunnel's
/// (`istio_tcp_connections_opened_total` and friends) with a `node_proxy_` prefix; tunnels per identity pair carry
/// `source_identity` and `destination` labels.
enum NodeProxyMetrics {
    static func render(_ c: NodeProxyStats.Counts) -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        func counter(_ name: String, _ help: String, _ value: Int, labels: [(String, String)] = []) {
            registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "node_proxy_" + name, unitName: "total",
                                                                  helpText: help),
                                 labels: labels).increment(by: Int64(value))
        }
        counter("outbound_connections", "Pods' connections the outbound side accepted", c.outboundConnections)
        counter("tunnel_connections", "HTTP/2 connections (mutual TLS) opened to peer node proxies", c.tunnelConnections)
        counter("streams_out", "CONNECT streams opened to peers", c.outboundStreams)
        counter("streams_in", "CONNECT streams accepted from peers", c.inboundStreams)
        counter("denied", "Inbound streams the L4 policy refused (403)", c.denied)
        counter("handshakes_refused", "Inbound TLS handshakes without a lab certificate", c.refusedHandshakes)
        counter("tunnels_failed", "Tunnels that could not be set up", c.failedTunnels)
        counter("bytes_into_tunnels", "Bytes from pods into tunnels", c.bytesIntoTunnels)
        counter("bytes_out_of_tunnels", "Bytes out of tunnels to pods", c.bytesOutOfTunnels)
        for (pair, streams) in c.streamsPerPair.sorted(by: { $0.key.description < $1.key.description }) {
            counter("pair_streams", "CONNECT streams per source identity and destination", streams,
                    labels: [("source_identity", pair.source), ("destination", pair.destination)])
        }
        return registry.emitToBuffer()
    }
}
