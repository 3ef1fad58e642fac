import ArgumentParser
extension Meshbench {
    struct Run: ParsableCommand {}
    struct Serve: ParsableCommand {}
    struct Doctor: ParsableCommand {}
}
