import ArgumentParser

/// One pod a node proxy serves (`--pod netns=PATH,cert=PATH,key=PATH`): the file of its network namespace (such as
/// `/proc/<pid>/fd/<fd>` of the process holding it) and its workload identity's certificate and key. Paths may not
/// hold commas.
public struct NodeProxyPodOption: ExpressibleByArgument, Sendable, Equatable {
    public var namespace: String
    public var certificate: String
    public var privateKey: String

    static let keys = ["netns", "cert", "key"]

    public init(namespace: String, certificate: String, privateKey: String) {
        self.namespace = namespace
        self.certificate = certificate
        self.privateKey = privateKey
    }

    public init?(argument: String) {
        guard let parsed = try? Self.parse(argument) else { return nil }
        self = parsed
    }

    /// The option's value, or why it is not one.
    public static func parse(_ text: String) throws -> NodeProxyPodOption {
        var values: [String: String] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, keys.contains(String(pair[0])), !pair[1].isEmpty else {
                throw ValidationError("--pod '\(text)': '\(part)' is not one of \(keys.map { "\($0)=PATH" }.joined(separator: ", "))")
            }
            guard values[String(pair[0])] == nil else {
                throw ValidationError("--pod '\(text)' gives \(pair[0]) twice")
            }
            values[String(pair[0])] = String(pair[1])
        }
        guard let namespace = values["netns"], let certificate = values["cert"], let key = values["key"] else {
            let missing = keys.filter { values[$0] == nil }.joined(separator: ", ")
            throw ValidationError("--pod '\(text)' lacks \(missing) (give netns=PATH,cert=PATH,key=PATH)")
        }
        return NodeProxyPodOption(namespace: namespace, certificate: certificate, privateKey: key)
    }

    public static var defaultValueDescription: String { "netns=PATH,cert=PATH,key=PATH" }

    /// The option as the command line carries it.
    public var argument: String { "netns=\(namespace),cert=\(certificate),key=\(privateKey)" }
}
