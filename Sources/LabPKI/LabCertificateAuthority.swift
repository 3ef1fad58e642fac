#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import Foundation
import LabCore
import NIOConcurrencyHelpers
import Sidecar
import X509

/// The lab's own certificate authority, made at run time: a P-256 ECDSA CA that issues the sidecars' mTLS
/// certificates, as Istio's citadel issues workload certificates.
///
/// Made fresh for every run, so no key material is ever committed or reused; nothing outside the lab trusts it. The
/// CA's private key never leaves memory: only its certificate is written (`ca.pem`).
///
/// ```swift
/// let ca = try LabCertificateAuthority()
/// _ = try ca.issue(commonName: "inbound", usage: .server)
/// _ = try ca.issue(commonName: "outbound", usage: .client)
/// let bundle = try ca.writeBundle(to: "/tmp/run-1/tls")
/// let inboundTLS = bundle.tls(for: "inbound")   // SidecarTLS with the three paths
/// ```
public final class LabCertificateAuthority: Sendable {
    /// What an issued certificate may be used for (its extended key usage).
    public enum Usage: String, Sendable, CaseIterable {
        case server
        case client
        case both
    }

    /// One issued certificate and its key, in PEM.
    public struct Identity: Sendable, Equatable {
        public var name: String
        public var certificatePEM: String
        public var privateKeyPEM: String
    }

    /// Where `writeBundle` put the files.
    public struct Bundle: Sendable, Equatable {
        /// The CA certificate: the trust roots of every sidecar.
        public var caCertificate: String
        /// Per identity name: its certificate and key files.
        public var identities: [String: IdentityFiles]

        /// The `SidecarTLS` of the identity called `name`, or nil if none was issued under that name.
        public func tls(for name: String) -> SidecarTLS? {
            identities[name].map {
                SidecarTLS(certificate: $0.certificate, privateKey: $0.privateKey, trustRoots: caCertificate)
            }
        }
    }

    public struct IdentityFiles: Sendable, Equatable {
        public var certificate: String
        /// Written with mode 0600.
        public var privateKey: String
    }

    /// The CA certificate in PEM.
    public let certificatePEM: String

    private let key: P256.Signing.PrivateKey
    private let certificate: Certificate
    private let keyIdentifier: ArraySlice<UInt8>
    private let validity: TimeInterval
    private let issued = NIOLockedValueBox<[Identity]>([])

    /// Makes a new CA key and self-signed CA certificate.
    ///
    /// - Parameters:
    ///   - commonName: the CA's subject name.
    ///   - validity: how long the CA and the certificates it issues are valid; a week covers any lab run. Validity
    ///     starts an hour in the past so that a peer whose clock is slightly behind still accepts them.
    public init(commonName: String = "meshbench lab CA", validity: TimeInterval = 7 * 24 * 3600) throws {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let keyIdentifier = SubjectKeyIdentifier(hash: publicKey).keyIdentifier
        let name = try DistinguishedName {
            OrganizationName("meshbench")
            CommonName(commonName)
        }
        let now = Date()
        let certificate: Certificate
        do {
            certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(validity),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(keyIdentifier: keyIdentifier)
                },
                issuerPrivateKey: Certificate.PrivateKey(key)
            )
            certificatePEM = try certificate.serializeAsPEM().pemString
        } catch {
            throw LabError.runFailed("cannot make the lab CA certificate: \(error)")
        }
        self.key = key
        self.certificate = certificate
        self.keyIdentifier = keyIdentifier
        self.validity = validity
    }

    /// Issues a certificate for `commonName`, signed by this CA, with a fresh P-256 key.
    ///
    /// - Parameters:
    ///   - dnsNames: subject alternative DNS names; clients check the name they connected to against them.
    ///   - ipAddresses: subject alternative IP addresses (IPv4 or IPv6 text); NIOSSL checks the connected address
    ///     against them when a client connects by IP.
    ///   - usage: server, client, or both (a sidecar may be either side of a hop).
    ///   - uris: subject alternative URIs: a workload's SPIFFE ID (`spiffe://cluster.local/ns/default/sa/client`), the
    ///     identity Istio's proxies check.
    /// - Throws: `LabError.badInput` for an IP address that is not one.
    public func issue(
        commonName: String,
        dnsNames: [String] = ["localhost"],
        ipAddresses: [String] = ["127.0.0.1"],
        usage: Usage = .both,
        uris: [String] = []
    ) throws -> (certificatePEM: String, privateKeyPEM: String) {
        var alternativeNames: [GeneralName] = dnsNames.map { .dnsName($0) } + uris.map { .uniformResourceIdentifier($0) }
        for address in ipAddresses {
            guard let bytes = Self.addressBytes(address) else {
                throw LabError.badInput("certificate for '\(commonName)': '\(address)' is not an IPv4 or IPv6 address")
            }
            alternativeNames.append(.ipAddress(.init(contentBytes: bytes[...])))
        }
        let usages: [ExtendedKeyUsage.Usage]
        switch usage {
        case .server: usages = [.serverAuth]
        case .client: usages = [.clientAuth]
        case .both: usages = [.serverAuth, .clientAuth]
        }

        let leafKey = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(leafKey.publicKey)
        let now = Date()
        let certificatePEM: String
        do {
            let subject = try DistinguishedName {
                OrganizationName("meshbench")
                CommonName(commonName)
            }
            let leaf = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(validity),
                issuer: certificate.subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage(usages)
                    SubjectAlternativeNames(alternativeNames)
                    SubjectKeyIdentifier(hash: publicKey)
                    AuthorityKeyIdentifier(keyIdentifier: keyIdentifier)
                },
                issuerPrivateKey: Certificate.PrivateKey(key)
            )
            certificatePEM = try leaf.serializeAsPEM().pemString
        } catch {
            throw LabError.runFailed("cannot issue a certificate for '\(commonName)': \(error)")
        }
        let identity = Identity(
            name: commonName,
            certificatePEM: certificatePEM,
            privateKeyPEM: leafKey.pemRepresentation
        )
        issued.withLockedValue { $0.append(identity) }
        return (identity.certificatePEM, identity.privateKeyPEM)
    }

    /// Every identity issued so far, oldest first.
    public var identities: [Identity] { issued.withLockedValue { $0 } }

    /// Writes `ca.pem` and, per issued identity, `<name>.pem` and `<name>-key.pem` into `directory` (made if missing,
    /// mode 0700). Keys are written with mode 0600 from the start, never briefly readable by others. A name's
    /// characters outside `A-Z a-z 0-9 . _ -` become `-` in its file names.
    ///
    /// - Throws: `LabError.runFailed` when a file cannot be written.
    @discardableResult
    public func writeBundle(to directory: String) throws -> Bundle {
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw LabError.runFailed("cannot create the certificate directory '\(directory)': \(error)")
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let caPath = base + "/ca.pem"
        try Self.writeFile(caPath, contents: certificatePEM, mode: 0o644)
        var files: [String: IdentityFiles] = [:]
        for identity in identities {
            let stem = Self.fileStem(identity.name)
            let paths = IdentityFiles(certificate: "\(base)/\(stem).pem", privateKey: "\(base)/\(stem)-key.pem")
            try Self.writeFile(paths.certificate, contents: identity.certificatePEM, mode: 0o644)
            try Self.writeFile(paths.privateKey, contents: identity.privateKeyPEM, mode: 0o600)
            files[identity.name] = paths
        }
        return Bundle(caCertificate: caPath, identities: files)
    }

    static func fileStem(_ name: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        let stem = String(name.map { allowed.contains($0) ? $0 : "-" })
        return stem.isEmpty || stem.hasPrefix(".") ? "id" + stem : stem
    }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6; nil if `text` is neither.
    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// Creates or truncates `path` with `mode` and writes `contents`. The mode is set on the open descriptor before
    /// any byte is written, so a key file that already existed with wider permissions is narrowed first.
    private static func writeFile(_ path: String, contents: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw LabError.runFailed("cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { _ = close(fd) }
        guard fchmod(fd, mode) == 0 else {
            throw LabError.runFailed("cannot set the mode of '\(path)': \(String(cString: strerror(errno)))")
        }
        let bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw LabError.runFailed("cannot write '\(path)': \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }
}
