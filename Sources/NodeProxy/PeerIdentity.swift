import NIOSSL
import X509

/// A workload's identity as its certificate states it: the first URI subject alternative name (Istio's SPIFFE ID,
/// `spiffe://cluster.local/ns/default/sa/client`), or else the subject's common name.
enum PeerIdentity {
    static func of(_ certificate: NIOSSLCertificate) -> String? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return nil }
        return of(parsed)
    }

    static func of(_ certificate: Certificate) -> String? {
        if let names = try? certificate.extensions.subjectAlternativeNames {
            for name in names {
                if case .uniformResourceIdentifier(let uri) = name { return uri }
            }
        }
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return attribute.value.description
            }
        }
        return nil
    }
}
