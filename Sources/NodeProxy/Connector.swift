import Foundation
import LabCore
import NIOCore
import NIOPosix

/// How the node proxy opens a TCP connection: from its own namespace, or from inside the pod it serves
/// (`PodSockets`), in which case the connect runs on a thread of its own and the connected socket is handed to the
/// event loop.
struct Connector: Sendable {
    let pod: PodSockets?
    let timeout: LabDuration

    func connect(_ target: HostPort, on loop: EventLoop,
                 initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) -> EventLoopFuture<Channel> {
        let timeout = self.timeout
        @Sendable func bootstrap() -> ClientBootstrap {
            ClientBootstrap(group: loop)
                .connectTimeout(.nanoseconds(Int64(clamping: timeout.nanoseconds)))
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .channelInitializer(initializer)
        }
        guard let pod else { return bootstrap().connect(host: target.host, port: target.port) }
        let promise = loop.makePromise(of: Channel.self)
        DispatchQueue.global().async {
            do {
                let fd = try pod.connected(to: target, timeout: timeout)
                loop.execute { bootstrap().withConnectedSocket(fd).cascade(to: promise) }
            } catch {
                promise.fail(error)
            }
        }
        return promise.futureResult
    }
}
