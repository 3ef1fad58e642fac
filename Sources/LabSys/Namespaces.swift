import CLabSys

/// Linux namespaces of the calling thread (setns, unshare).
public enum Namespaces {
    /// Kinds of namespace `unshare` can make new.
    public struct Kinds: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let network = Kinds(rawValue: CLabSys_clone_new_network())
        public static let mount = Kinds(rawValue: CLabSys_clone_new_mount())
    }

    /// setns(fd, CLONE_NEWNET): moves the calling thread into the network namespace `fd` refers to (an open
    /// /proc/PID/ns/net or /run/netns/NAME). Other threads stay where they are.
    public static func enterNetworkNamespace(fd: Int32) throws(SysError) {
        try sysCall("setns(CLONE_NEWNET)") { CLabSys_setns(fd, CLabSys_clone_new_network()) }
    }

    /// unshare: gives the calling thread new, empty namespaces of `kinds`.
    public static func unshare(_ kinds: Kinds) throws(SysError) {
        try sysCall("unshare") { CLabSys_unshare(kinds.rawValue) }
    }
}
