import LabBase

/// PEM files for one side of the mTLS link.
public struct TLSFiles: Sendable, Equatable {
    public var certificate: String
    public var privateKey: String
    public var caCertificate: String
    /// Certificate and key in one file, as haproxy's `crt` wants them.
    public var bundle: String

    public init(certificate: String, privateKey: String, caCertificate: String, bundle: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.caCertificate = caCertificate
        self.bundle = bundle
    }
}
