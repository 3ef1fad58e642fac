import LabCore
import NIOSSL
import Sidecar

/// The node proxy's TLS contexts: mutual TLS on both sides, HTTP/2 only (HBONE), the peer's chain checked against the
/// lab CA. A peer's identity is its certificate's (`PeerIdentity`), not the address it was reached at, as ztunnel
/// checks SPIFFE identities rather than host names. The files are read as the sidecar reads them.
enum NodeProxyTLS {
    static func server(_ tls: SidecarTLS) throws -> NIOSSLContext {
        let (chain, key) = try SidecarTLSContexts.loadIdentity(tls)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .file(tls.trustRoots)
        configuration.applicationProtocols = ["h2"]
        return try SidecarTLSContexts.makeContext(configuration, tls)
    }

    static func client(_ tls: SidecarTLS) throws -> NIOSSLContext {
        let (chain, key) = try SidecarTLSContexts.loadIdentity(tls)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateChain = chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(key)
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .file(tls.trustRoots)
        configuration.applicationProtocols = ["h2"]
        return try SidecarTLSContexts.makeContext(configuration, tls)
    }
}
