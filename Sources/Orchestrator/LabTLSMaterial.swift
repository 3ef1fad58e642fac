import Foundation
import LabCore
import Sidecar

/// The certificates of one run: a CA made for it, a server identity for the inbound sidecar and a client identity
/// for the outbound one. Nothing secret outlives the run: `removePrivateKeys` deletes the keys at the end.
struct LabTLSMaterial {
    var directory: String
    var inbound: TLSFiles
    var outbound: TLSFiles

    static func make(in directory: String) throws -> LabTLSMaterial {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let ca = try LabCertificateAuthority()
            let caPath = directory + "/ca.pem"
            try write(ca.certificatePEM, to: caPath, mode: 0o644)
            func identity(_ name: String, _ usage: LabCertificateAuthority.Usage) throws -> TLSFiles {
                let issued = try ca.issue(commonName: "meshbench-\(name)", dnsNames: ["localhost"],
                                          ipAddresses: ["127.0.0.1"], usage: usage)
                let files = TLSFiles(certificate: "\(directory)/\(name).pem", privateKey: "\(directory)/\(name)-key.pem",
                                     caCertificate: caPath, bundle: "\(directory)/\(name)-bundle.pem")
                try write(issued.certificatePEM, to: files.certificate, mode: 0o644)
                try write(issued.privateKeyPEM, to: files.privateKey, mode: 0o600)
                try write(issued.certificatePEM + "\n" + issued.privateKeyPEM, to: files.bundle, mode: 0o600)
                return files
            }
            return LabTLSMaterial(directory: directory, inbound: try identity("inbound", .server),
                                  outbound: try identity("outbound", .client))
        } catch let e as LabError {
            throw e
        } catch {
            throw LabError.runFailed("cannot make the run's TLS certificates in \(directory): \(error)")
        }
    }

    func removePrivateKeys() {
        for files in [inbound, outbound] {
            try? FileManager.default.removeItem(atPath: files.privateKey)
            try? FileManager.default.removeItem(atPath: files.bundle)
        }
    }

    private static func write(_ text: String, to path: String, mode: Int) throws {
        // Created with its final mode, so a key is never readable by others even for a moment.
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: mode]) else {
            throw LabError.runFailed("cannot write \(path)")
        }
    }
}
