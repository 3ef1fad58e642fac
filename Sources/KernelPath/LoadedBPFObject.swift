import CLibbpf
import Foundation

/// One of the BPF objects embedded at build time (`bpf/<name>.bpf.c`), opened and loaded into the kernel: what
/// `MeshPrograms` and `NodePrograms` share — finding programs and maps by name, writing and deleting map entries,
/// reading per-CPU counters, walking the maps. The object (programs and maps this process holds) is closed when this
/// value goes; links attached to its programs are its owners' to close first.
///
/// Not thread-safe: one owner.
final class LoadedBPFObject {
    let name: String
    private let object: OpaquePointer
    /// libbpf parses the ELF from this buffer during open and load; it is freed with the object.
    private let buffer: UnsafeMutableRawBufferPointer

    /// The raw ELF object `name` as embedded at build time.
    static func embedded(_ name: String) throws -> Data {
        guard let encoded = EmbeddedBPFObjects.all[name], let bytes = Data(base64Encoded: encoded) else {
            throw MeshProgramsError.objectNotEmbedded(name)
        }
        return bytes
    }

    /// - Throws: `BPFError` (EPERM without root), `MeshProgramsError` if the object is missing from the build.
    init(embedded name: String) throws {
        let bytes = try Self.embedded(name)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
        bytes.copyBytes(to: buffer)
        let opened: OpaquePointer
        do {
            opened = try BPFError.checkPointer(bpf_object__open_mem(buffer.baseAddress, buffer.count, nil),
                                               "bpf_object__open_mem(\(name).bpf.o)")
        } catch {
            buffer.deallocate()
            throw error
        }
        self.name = name
        self.buffer = buffer
        object = opened
        // deinit closes the object and frees the buffer if the load fails.
        try BPFError.check(bpf_object__load(opened), "bpf_object__load(\(name).bpf.o)")
    }

    deinit {
        bpf_object__close(object)
        buffer.deallocate()
    }

    func program(_ name: String) throws -> OpaquePointer {
        try BPFError.checkPointer(bpf_object__find_program_by_name(object, name),
                                  "bpf_object__find_program_by_name(\(name))")
    }

    func programFD(_ name: String) throws -> Int32 {
        try BPFError.check(bpf_program__fd(try program(name)), "bpf_program__fd(\(name))")
    }

    func mapFD(_ name: String) throws -> Int32 {
        let map = try BPFError.checkPointer(bpf_object__find_map_by_name(object, name),
                                            "bpf_object__find_map_by_name(\(name))")
        return try BPFError.check(bpf_map__fd(map), "bpf_map__fd(\(name))")
    }

    func update<K: BitwiseCopyable, V: BitwiseCopyable>(_ map: String, key: inout K, value: inout V,
                                                          flags: UInt64 = UInt64(BPF_ANY)) throws {
        let fd = try mapFD(map)
        try BPFError.check(bpf_map_update_elem(fd, &key, &value, flags), "bpf_map_update_elem(\(map))")
    }

    /// Deletes a key; a key that is not there is not an error.
    func delete<K: BitwiseCopyable>(_ map: String, key: inout K) throws {
        let fd = try mapFD(map)
        let rc = bpf_map_delete_elem(fd, &key)
        if rc == -ENOENT { return }
        try BPFError.check(rc, "bpf_map_delete_elem(\(map))")
    }

    /// Every CPU's value at `key` of a per-CPU array.
    func perCPU<V: BitwiseCopyable>(_ map: String, key: UInt32, empty: V) throws -> [V] {
        let cpus = try BPFError.check(libbpf_num_possible_cpus(), "libbpf_num_possible_cpus")
        var values = [V](repeating: empty, count: Int(cpus))
        var key = key
        let fd = try mapFD(map)
        let rc = values.withUnsafeMutableBytes { raw in bpf_map_lookup_elem(fd, &key, raw.baseAddress) }
        try BPFError.check(rc, "bpf_map_lookup_elem(\(map)[\(key)])")
        return values
    }

    /// Every map of the object with its descriptor.
    var maps: [(name: String, map: OpaquePointer, fd: Int32)] {
        var result: [(name: String, map: OpaquePointer, fd: Int32)] = []
        var map = bpf_object__next_map(object, nil)
        while let m = map {
            let fd = bpf_map__fd(m)
            if fd >= 0 { result.append((bpf_map__name(m).map { String(cString: $0) } ?? "?", m, fd)) }
            map = bpf_object__next_map(object, m)
        }
        return result
    }
}
