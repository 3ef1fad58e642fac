import NIOCore
import NIOHTTP1
import Prometheus

/// The proxy's Prometheus metrics, in a registry the proxy owns (no global bootstrap, so two proxies in one process,
/// as in the tests, keep separate counts).
///
/// Names follow Envoy's statistics (`upstream_rq_*`, `upstream_cx_*`, `downstream_cx_*`) with a `sidecar_` prefix
/// and Prometheus' unit suffixes. Every handle is made once at start; the request path only increments: counters are
/// relaxed atomics, the histogram takes its own uncontended lock (one event loop by default).
final class SidecarMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let endpoints: [EndpointMetrics]
    let downstreamConnectionsActive: Gauge
    let downstreamConnections: Counter
    let downstreamConnectionsRejected: Counter

    /// Sub-millisecond resolution at the bottom, where a proxy's own cost lives, up to Envoy's 10 s.
    static let durationBuckets: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    init(endpointLabels: [String]) {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        self.endpoints = endpointLabels.map { EndpointMetrics(registry: registry, upstream: $0) }
        downstreamConnectionsActive = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "sidecar_downstream_connections",
                unitName: "active",
                helpText: "Downstream connections open now"
            )
        )
        downstreamConnections = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "sidecar_downstream_connections",
                unitName: "total",
                helpText: "Downstream connections accepted"
            )
        )
        downstreamConnectionsRejected = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "sidecar_downstream_connections_rejected",
                unitName: "total",
                helpText: "Downstream connections closed at once because the connection limit was reached"
            )
        )
    }

    /// The Prometheus text exposition of every metric.
    func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// The metrics of one upstream endpoint, labelled `upstream="host:port"`.
final class EndpointMetrics: Sendable {
    /// Indexed by status class: 0 for 1xx ... 4 for 5xx.
    let requestsByClass: [Counter]
    let duration: ValueHistogram
    let bytesReceived: Counter
    let bytesSent: Counter
    let connectFailures: Counter
    let retries: Counter
    let connectionsOpened: Counter

    init(registry: PrometheusCollectorRegistry, upstream: String) {
        let label = [("upstream", upstream)]
        requestsByClass = (1...5).map { statusClass in
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "sidecar_upstream_requests",
                    unitName: "total",
                    helpText: "Requests answered, by upstream endpoint and status class"
                ),
                labels: label + [("class", "\(statusClass)xx")]
            )
        }
        duration = registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "sidecar_upstream_request_duration",
                unitName: "seconds",
                helpText: "Time from request head to the end of the response"
            ),
            labels: label,
            buckets: SidecarMetrics.durationBuckets
        )
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "total", helpText: help),
                labels: label
            )
        }
        bytesReceived = counter("sidecar_upstream_rx_bytes", "Response body bytes received from the upstream")
        bytesSent = counter("sidecar_upstream_tx_bytes", "Request body bytes sent to the upstream")
        connectFailures = counter("sidecar_upstream_connect_failures", "Connection attempts that failed or timed out")
        retries = counter("sidecar_upstream_retries", "Retries of requests whose attempt on this endpoint failed")
        connectionsOpened = counter("sidecar_upstream_connections", "Upstream connections opened")
    }

    /// Records one finished request. A status of 0 (the client left before any response) counts only its duration.
    func record(status: Int, seconds: Double, bytesFromUpstream: Int, bytesToUpstream: Int) {
        let statusClass = status / 100
        if (1...5).contains(statusClass) {
            requestsByClass[statusClass - 1].increment()
        }
        duration.record(seconds)
        if bytesFromUpstream > 0 {
            bytesReceived.increment(by: Int64(bytesFromUpstream))
        }
        if bytesToUpstream > 0 {
            bytesSent.increment(by: Int64(bytesToUpstream))
        }
    }
}

/// Serves `GET /metrics` in the Prometheus text format on its own listener: a tiny HTTP/1.1 server, apart from the
/// proxy's listener so that scraping never competes with, or shows up in, the traffic being measured.
public final class MetricsRequestHandler: ChannelInboundHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () -> [UInt8]
    private var request: HTTPRequestHead?

    convenience init(metrics: SidecarMetrics) {
        self.init(render: { metrics.render() })
    }

    /// - Parameter render: the Prometheus text exposition, made at each scrape.
    public init(render: @escaping @Sendable () -> [UInt8]) {
        self.render = render
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let status: HTTPResponseStatus
        var body: ByteBuffer
        var headers = HTTPHeaders()
        if path != "/metrics" {
            status = .notFound
            body = context.channel.allocator.buffer(string: "not found: this server serves GET /metrics\n")
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        } else if head.method != .GET && head.method != .HEAD {
            status = .methodNotAllowed
            body = context.channel.allocator.buffer(string: "use GET /metrics\n")
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
            headers.add(name: "allow", value: "GET, HEAD")
        } else {
            status = .ok
            let text = render()
            body = context.channel.allocator.buffer(capacity: text.count)
            body.writeBytes(text)
            headers.add(name: "content-type", value: "text/plain; version=0.0.4; charset=utf-8")
        }
        headers.add(name: "content-length", value: String(body.readableBytes))
        if !head.isKeepAlive {
            headers.add(name: "connection", value: "close")
        }
        let responseHead = HTTPResponseHead(version: head.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if head.isKeepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension MetricsRequestHandler: Sendable {}
