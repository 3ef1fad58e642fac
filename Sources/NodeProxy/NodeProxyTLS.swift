import LabCore
import NIOSSL
import Sidecar

/// The node proxy's TLS contexts: mutual TLS on both sides, HTTP/2 only (HBONE), the peer's chain checked against the
/// lab CA. A peer's identity is its certificate's (`PeerIdentity`), not the address it was reached at, as ztunnel
/// checks SPIFFE identities rather than host names.
enum NodeProxyTLS {
    static func server(_ tls: SidecarTLS) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try chain(tls).map { .certificate($0) }, privateKey: .privateKey(try key(tls)))
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .file(tls.trustRoots)
        configuration.applicationProtocols = ["h2"]
        return try context(configuration, tls)
    }

    static func client(_ tls: SidecarTLS) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.certificateChain = try chain(tls).map { .certificate($0) }
        configuration.privateKey = .privateKey(try key(tls))
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .file(tls.trustRoots)
        configuration.applicationProtocols = ["h2"]
        return try context(configuration, tls)
    }

    private static func chain(_ tls: SidecarTLS) throws -> [NIOSSLCertificate] {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate)
            guard !chain.isEmpty else { throw LabError.badInput("tls: '\(tls.certificate)' holds no certificate") }
            return chain
        } catch let error as LabError {
            throw error
        } catch {
            throw LabError.badInput("tls: cannot read the certificate '\(tls.certificate)' as PEM: \(error)")
        }
    }

    private static func key(_ tls: SidecarTLS) throws -> NIOSSLPrivateKey {
        do {
            return try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
        } catch {
            throw LabError.badInput("tls: cannot read the private key '\(tls.privateKey)' as PEM: \(error)")
        }
    }

    private static func context(_ configuration: TLSConfiguration, _ tls: SidecarTLS) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw LabError.badInput("tls: the certificate '\(tls.certificate)', key '\(tls.privateKey)' and trust roots "
                + "'\(tls.trustRoots)' cannot be used together: \(error)")
        }
    }
}
