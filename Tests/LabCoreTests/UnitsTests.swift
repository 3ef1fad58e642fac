import Testing
@testable import LabCore

/// The unit parsers sit under every scenario value and command-line flag, so each accepted and each refused form is
/// pinned here: a silently different reading ("10" as ten nanoseconds) would skew a benchmark without any error.
@Suite struct LabDurationTests {
    @Test(arguments: [
        ("10s", UInt64(10_000_000_000)),
        ("500ms", 500_000_000),
        ("250us", 250_000),
        ("250µs", 250_000),
        ("1.5s", 1_500_000_000),
        ("2m", 120_000_000_000),
        ("1h", 3_600_000_000_000),
        ("100ns", 100),
        ("0s", 0),
        (" 3s ", 3_000_000_000),
    ])
    func parsesDurationsWithUnits(text: String, nanoseconds: UInt64) {
        #expect(LabDuration.parse(text) == LabDuration(nanoseconds: nanoseconds))
    }

    /// A bare number is refused on purpose: "10" could mean seconds or milliseconds depending on the tool.
    @Test(arguments: ["10", "-1s", "abc", "", "s", "1.5", "10 parsecs", "nans", "infs"])
    func rejectsMalformedDurations(text: String) {
        #expect(LabDuration.parse(text) == nil)
    }

    @Test(arguments: [
        (LabDuration.seconds(10), "10s"),
        (LabDuration.milliseconds(1500), "1500ms"),
        (LabDuration(nanoseconds: 250_000), "250us"),
        (LabDuration(nanoseconds: 7), "7ns"),
        (LabDuration.zero, "0s"),
    ])
    func printsTheShortestExactForm(duration: LabDuration, text: String) {
        #expect(duration.description == text)
        #expect(LabDuration.parse(duration.description) == duration)
    }

    @Test func allowedFormNamesEveryUnit() {
        for unit in ["ns", "us", "ms", "s", "m", "h"] {
            #expect(LabDuration.allowedForm.contains(unit))
        }
    }
}

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("0", 0), ("1024", 1024), ("1k", 1024), ("64KiB", 65_536), ("64kB", 65_536), ("1m", 1_048_576),
        ("1MiB", 1_048_576), ("10b", 10), (" 2k ", 2048),
    ])
    func parsesSizes(text: String, bytes: Int) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test(arguments: ["-1", "1x", "", "k", "1.5k", "abc", "99999999999"])
    func rejectsMalformedSizes(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }
}

@Suite struct HostPortTests {
    @Test(arguments: [
        ("127.0.0.1:80", "127.0.0.1", 80),
        ("[::1]:8080", "::1", 8080),
        ("localhost:0", "localhost", 0),
        ("127.0.0.1:65535", "127.0.0.1", 65_535),
    ])
    func parsesHostAndPort(text: String, host: String, port: Int) {
        #expect(HostPort.parse(text) == HostPort(host: host, port: port))
        #expect(HostPort.parse(text)?.description == text)
    }

    @Test(arguments: ["nope", "1.2.3.4:99999", "1.2.3.4:-1", ":80", "127.0.0.1:", "[::1]8080", "[::1:80", "host:http"])
    func rejectsMalformedAddresses(text: String) {
        #expect(HostPort.parse(text) == nil)
    }
}

@Suite struct DelayDistributionTests {
    @Test(arguments: [
        ("0", DelayDistribution.none),
        ("none", .none),
        ("0ms", .none),
        ("5ms", .fixed(.milliseconds(5))),
        ("fixed:5ms", .fixed(.milliseconds(5))),
        ("uniform:1ms-5ms", .uniform(.milliseconds(1), .milliseconds(5))),
        ("exp:2ms", .exponential(mean: .milliseconds(2))),
        ("exponential:2ms", .exponential(mean: .milliseconds(2))),
        ("normal:5ms,1ms", .normal(mean: .milliseconds(5), stddev: .milliseconds(1))),
    ])
    func parsesEveryForm(text: String, expected: DelayDistribution) {
        #expect(DelayDistribution.parse(text) == expected)
    }

    @Test(arguments: [
        "5", "abc", "fixed:", "fixed:5", "uniform:5ms-1ms", "uniform:1ms", "exp:0ms", "exp:-1ms",
        "normal:5ms", "normal:5ms,1ms,2ms", "gauss:1ms", "uniform:1ms-x",
    ])
    func rejectsMalformedDistributions(text: String) {
        #expect(DelayDistribution.parse(text) == nil)
    }

    /// Blank text reaches `parse` from the command line (`--delay ''`); it must be refused, never trap.
    @Test(arguments: ["", "   ", ":", "::", "uniform:"])
    func rejectsBlankText(text: String) {
        #expect(DelayDistribution.parse(text) == nil)
    }

    /// Scenarios are copied into report.json through `description`, so it must read back as the same distribution.
    @Test(arguments: [
        DelayDistribution.none, .fixed(.milliseconds(5)), .uniform(.milliseconds(1), .milliseconds(5)),
        .exponential(mean: .milliseconds(2)),
        .normal(mean: .milliseconds(5), stddev: LabDuration(nanoseconds: 500_000)),
    ])
    func descriptionReadsBack(distribution: DelayDistribution) {
        #expect(DelayDistribution.parse(distribution.description) == distribution)
    }

    @Test func samplesStayWithinTheirBounds() {
        var rng = SystemRandomNumberGenerator()
        let uniform = DelayDistribution.uniform(.milliseconds(1), .milliseconds(5))
        for _ in 0..<1000 {
            let ns = uniform.sample(using: &rng)
            #expect((1_000_000...5_000_000).contains(ns))
        }
        #expect(DelayDistribution.none.sample(using: &rng) == 0)
        #expect(DelayDistribution.fixed(.milliseconds(5)).sample(using: &rng) == 5_000_000)
    }
}
