import CYaml

/// A scan of YAML text for aliases (`*name`), with libyaml's scanner, before anything builds a document from it.
///
/// Why before: an alias used as a mapping key makes a composer's duplicate-key check hash every expansion, so a few
/// lines of nested aliases ("billion laughs") keep it busy for hours. Scanning tokens expands nothing.
public enum YAMLAliasScan {
    /// The 1-based line of the first alias in `yaml`, or nil when there is none. Text the scanner cannot read
    /// ends the scan without a result: the composer reports that error with its own line.
    public static func firstAliasLine(in yaml: String) -> Int? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(yaml.utf8)
        return bytes.withUnsafeBufferPointer { buffer -> Int? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var token = yaml_token_t()
            while yaml_parser_scan(&parser, &token) == 1 {
                defer { yaml_token_delete(&token) }
                if token.type == YAML_ALIAS_TOKEN { return Int(token.start_mark.line) + 1 }
                if token.type == YAML_STREAM_END_TOKEN { break }
            }
            return nil
        }
    }
}
