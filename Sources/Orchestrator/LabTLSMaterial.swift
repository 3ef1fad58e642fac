import Foundation
import LabCore
import LabPKI
import Sidecar

/// The certificates of one run: a CA made for it, a server identity for the inbound sidecar and a client identity
/// for the outbound one, and for the `ambient` path a workload identity per pod (a SPIFFE ID in the certificate's URI
/// SAN, as Istio issues them: `spiffe://cluster.local/ns/default/sa/<pod>`), which the node proxy serving the pod
/// presents. Nothing secret outlives the run: the private keys live outside the results, in a folder
/// of the system's temporary directory named after the run, which `removePrivateKeys` deletes at the end and the
/// next run (or `doctor --cleanup`) deletes if the run was killed.
struct LabTLSMaterial {
    var directory: String
    var secrets: String
    var inbound: TLSFiles
    var outbound: TLSFiles
    var workloads: [PodNetwork.Pod: TLSFiles]

    /// The SPIFFE ID of a pod's workload.
    static func spiffeID(of pod: PodNetwork.Pod) -> String { "spiffe://cluster.local/ns/default/sa/\(pod.rawValue)" }

    static let secretsPrefix = "meshbench-secrets-"

    /// Where the private keys of run `runID` are kept.
    static func secretsDirectory(runID: String) -> String {
        (NSTemporaryDirectory() as NSString).appendingPathComponent(secretsPrefix + runID)
    }

    /// - Parameter runID: names the private-key folder; it ends in the owner's PID, which is how a later sweep tells
    ///   a killed run's keys from a live one's (the default is unique per call, for tests and tools).
    static func make(in directory: String, runID: String = "\(UUID().uuidString)-\(getpid())") throws -> LabTLSMaterial {
        let secrets = secretsDirectory(runID: runID)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
            try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let ca = try LabCertificateAuthority()
            let caPath = directory + "/ca.pem"
            try write(ca.certificatePEM, to: caPath, mode: 0o644)
            func identity(_ name: String, _ usage: LabCertificateAuthority.Usage, uris: [String] = []) throws -> TLSFiles {
                // The server pods' addresses too: in pods the outbound sidecar dials the server pod by address.
                let issued = try ca.issue(commonName: "meshbench-\(name)", dnsNames: ["localhost"],
                                          ipAddresses: ["127.0.0.1"] + (1...2).map { PodNetwork.Addressing.pod(.server, node: $0) },
                                          usage: usage, uris: uris)
                let files = TLSFiles(certificate: "\(directory)/\(name).pem", privateKey: "\(secrets)/\(name)-key.pem",
                                     caCertificate: caPath, bundle: "\(secrets)/\(name)-bundle.pem")
                try write(issued.certificatePEM, to: files.certificate, mode: 0o644)
                try write(issued.privateKeyPEM, to: files.privateKey, mode: 0o600)
                try write(issued.certificatePEM + "\n" + issued.privateKeyPEM, to: files.bundle, mode: 0o600)
                return files
            }
            var workloads: [PodNetwork.Pod: TLSFiles] = [:]
            for pod in PodNetwork.Pod.allCases {
                workloads[pod] = try identity("\(pod.rawValue)-pod", .both, uris: [spiffeID(of: pod)])
            }
            return LabTLSMaterial(directory: directory, secrets: secrets, inbound: try identity("inbound", .server),
                                  outbound: try identity("outbound", .client), workloads: workloads)
        } catch let e as LabError {
            throw e
        } catch {
            throw LabError.runFailed("cannot make the run's TLS certificates in \(directory): \(error)")
        }
    }

    func removePrivateKeys() {
        try? FileManager.default.removeItem(atPath: secrets)
    }

    /// Private-key folders of runs whose orchestrator is gone (killed before it could delete them), removed.
    static func removeStaleSecrets(isAlive: (String) -> Bool) -> [String] {
        let tmp = NSTemporaryDirectory()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []
        var removed: [String] = []
        for entry in entries where entry.hasPrefix(secretsPrefix) {
            let runID = String(entry.dropFirst(secretsPrefix.count))
            guard !isAlive(runID) else { continue }
            let path = (tmp as NSString).appendingPathComponent(entry)
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }

    private static func write(_ text: String, to path: String, mode: Int) throws {
        // Created with its final mode, so a key is never readable by others even for a moment.
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: mode]) else {
            throw LabError.runFailed("cannot write \(path)")
        }
    }
}
