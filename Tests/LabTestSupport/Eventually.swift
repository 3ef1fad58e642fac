/// Polls `condition` until it holds or `timeout` passes; returns whether it held. For waiting on something another
/// thread does (a connection closing, a counter moving) without a fixed sleep that is too short on a loaded machine
/// and too long on an idle one.
public func eventually(
    timeout: Duration = .seconds(10),
    pollingEvery interval: Duration = .milliseconds(5),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}
