import LabBase
import NIOSSL

/// Builds the proxy's TLS contexts from `SidecarTLS` PEM files, once at start: a context is expensive to make and
/// safe to share between event loops and connections. The node proxy builds its own configurations from the same
/// files with `loadIdentity` and `makeContext`.
public enum SidecarTLSContexts {
    /// The inbound sidecar's side: requires a client certificate that chains to the lab CA (mutual TLS), and offers
    /// HTTP/2 and HTTP/1.1 by ALPN.
    ///
    /// Hostnames are not checked on client certificates (`.noHostnameVerification`): a client's identity is its
    /// certificate's chain to the CA, not a name it connects from, as in Istio's peer authentication.
    static func makeServerContext(_ tls: SidecarTLS) throws -> NIOSSLContext {
        let (chain, key) = try loadIdentity(tls)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .file(tls.trustRoots)
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return try makeContext(configuration, tls)
    }

    /// The outbound sidecar's side: presents its certificate and verifies the peer's fully (chain to the CA, and the
    /// name or IP address it was reached at). Offers HTTP/1.1 only, the protocol of the upstream pool.
    static func makeClientContext(_ tls: SidecarTLS) throws -> NIOSSLContext {
        let (chain, key) = try loadIdentity(tls)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateChain = chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(key)
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .file(tls.trustRoots)
        configuration.applicationProtocols = ["http/1.1"]
        return try makeContext(configuration, tls)
    }

    /// The certificate chain and key of `tls`, with the trust roots checked readable; bad input names the file.
    public static func loadIdentity(_ tls: SidecarTLS) throws -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(tls.certificate)
        } catch {
            throw LabError.badInput("tls: cannot read the certificate '\(tls.certificate)' as PEM: \(error)")
        }
        guard !chain.isEmpty else {
            throw LabError.badInput("tls: '\(tls.certificate)' holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
        } catch {
            throw LabError.badInput("tls: cannot read the private key '\(tls.privateKey)' as PEM: \(error)")
        }
        do {
            let roots = try NIOSSLCertificate.fromPEMFile(tls.trustRoots)
            guard !roots.isEmpty else {
                throw LabError.badInput("tls: '\(tls.trustRoots)' holds no CA certificate")
            }
        } catch let error as LabError {
            throw error
        } catch {
            throw LabError.badInput("tls: cannot read the trust roots '\(tls.trustRoots)' as PEM: \(error)")
        }
        return (chain, key)
    }

    /// The context of `configuration`; bad input names `tls`'s files when they cannot be used together.
    public static func makeContext(_ configuration: TLSConfiguration, _ tls: SidecarTLS) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw LabError.badInput(
                "tls: the certificate '\(tls.certificate)' and key '\(tls.privateKey)' cannot be used together "
                    + "with the trust roots '\(tls.trustRoots)': \(error)"
            )
        }
    }
}
