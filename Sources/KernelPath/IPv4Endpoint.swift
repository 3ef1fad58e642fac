import Foundation

/// An IPv4 address and TCP port, kept in host byte order; `networkAddress`/`networkPort` give the kernel's order.
public struct IPv4Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// The address in host byte order (127.0.0.1 is 0x7F00_0001).
    public let address: UInt32
    public let port: UInt16

    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses a dotted-quad address; nil if it is not one.
    public init?(_ dottedQuad: String, port: UInt16) {
        var parsed = in_addr()
        guard inet_pton(AF_INET, dottedQuad, &parsed) == 1 else { return nil }
        self.init(address: UInt32(bigEndian: parsed.s_addr), port: port)
    }

    /// Parses `a.b.c.d:port`; nil if it is not one.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        self.init(String(text[..<colon]), port: port)
    }

    init(networkAddress: UInt32, networkPort: UInt16) {
        self.init(address: UInt32(bigEndian: networkAddress), port: UInt16(bigEndian: networkPort))
    }

    var networkAddress: UInt32 { address.bigEndian }
    var networkPort: UInt16 { port.bigEndian }

    /// True for 127.0.0.0/8, the only range the lab uses for service addresses: a connection to one can never leave the host.
    public var isLoopback: Bool { address >> 24 == 127 }

    /// True for the two ranges the lab gives services: 127.0.0.0/8 on loopback, and 198.18.0.0/15 (RFC 2544's
    /// benchmarking range), which exists only on interfaces inside the lab's own network namespaces (`topology: pods`).
    public var isLabAddress: Bool { isLoopback || address >> 17 == 0xC612 >> 1 }

    public var description: String {
        "\(address >> 24).\((address >> 16) & 0xFF).\((address >> 8) & 0xFF).\(address & 0xFF):\(port)"
    }
}
