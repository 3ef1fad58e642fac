import Testing

@testable import Sidecar

/// `ProxyExchangeStateMachine` on its own: each event in each state, with a stand-in for the upstream connection,
/// so no channel is needed.
struct ProxyExchangeStateMachineTests {
    final class FakeConnection: ProxyUpstreamConnection {
        var isWritable = true
    }

    typealias Machine = ProxyExchangeStateMachine<FakeConnection>

    /// A machine in a named state, reached through the events that lead there.
    static func machine(_ state: String, connection: FakeConnection = FakeConnection()) -> Machine {
        var machine = Machine()
        switch state {
        case "idle":
            break
        case "awaiting":
            _ = machine.requestHeadReceived()
        case "awaiting, request ended":
            _ = machine.requestHeadReceived()
            _ = machine.requestEndReceived()
        case "forwarding":
            _ = machine.requestHeadReceived()
            _ = machine.attached(connection)
        case "forwarding, response started":
            _ = machine.requestHeadReceived()
            _ = machine.attached(connection)
            machine.responseStarted(on: connection)
        case "responded":
            _ = machine.requestHeadReceived()
            _ = machine.attached(connection)
            machine.responseStarted(on: connection)
            _ = machine.responseCompleted(keepAlive: true)
        case "closed":
            machine.closed()
        default:
            Issue.record("no state \(state)")
        }
        return machine
    }

    static let states = [
        "idle", "awaiting", "awaiting, request ended", "forwarding", "forwarding, response started", "responded",
        "closed",
    ]

    /// (state, active, awaiting, on a connection, request ended, response started)
    @Test(arguments: [
        ("idle", false, false, false, false, false),
        ("awaiting", true, true, false, false, false),
        ("awaiting, request ended", true, true, false, true, false),
        ("forwarding", true, false, true, false, false),
        ("forwarding, response started", true, false, true, false, true),
        ("responded", true, false, false, false, true),
        ("closed", false, false, false, false, false),
    ])
    func whatEachStateAnswers(
        state: String, active: Bool, awaiting: Bool, onConnection: Bool, requestEnded: Bool, responseStarted: Bool
    ) {
        let machine = Self.machine(state)
        #expect(machine.exchangeActive == active)
        #expect(machine.isAwaitingUpstream == awaiting)
        #expect((machine.connection != nil) == onConnection)
        #expect(machine.requestEnded == requestEnded)
        #expect(machine.responseStarted == responseStarted)
    }

    @Test(arguments: states)
    func aHeadIsAcceptedOnlyWhenIdle(state: String) {
        var machine = Self.machine(state)
        let accepted = machine.requestHeadReceived()
        #expect(accepted == (state == "idle"))
    }

    /// (state, framed, action): body goes to the connection, waits for one, or is dropped.
    @Test(arguments: [
        ("awaiting", true, "queue"),
        ("forwarding", true, "forward"),
        ("forwarding", false, "drop"),
        ("awaiting", false, "drop"),
        ("responded", true, "drop"),
        ("idle", true, "drop"),
        ("closed", true, "drop"),
    ])
    func requestBodyGoesWhereTheRequestIs(state: String, framed: Bool, expected: String) {
        let connection = FakeConnection()
        let machine = Self.machine(state, connection: connection)
        switch machine.requestBodyReceived(framed: framed) {
        case .forward(let target):
            #expect(expected == "forward")
            #expect(target === connection)
        case .queue:
            #expect(expected == "queue")
        case .drop:
            #expect(expected == "drop")
        }
    }

    @Test func theRequestEndIsRememberedAcrossARetry() {
        let first = FakeConnection()
        var machine = Self.machine("forwarding", connection: first)
        guard case .forward(let target) = machine.requestEndReceived() else {
            Issue.record("the end goes to the connection")
            return
        }
        #expect(target === first)
        let left = machine.detached()
        #expect(left === first)
        #expect(machine.isAwaitingUpstream && machine.requestEnded)
        machine.attemptStarted()
        let second = FakeConnection()
        _ = machine.attached(second)
        #expect(machine.connection === second && machine.requestEnded && !machine.responseStarted)
    }

    @Test func aResponseCompleteBeforeTheRequestWaitsForItsEnd() {
        let connection = FakeConnection()
        var machine = Self.machine("forwarding, response started", connection: connection)
        let completion = machine.responseCompleted(keepAlive: true)
        #expect(!completion.requestEnded)
        #expect(machine.exchangeActive && machine.responseStarted)
        guard case .exchangeFinished = machine.requestEndReceived() else {
            Issue.record("the late end finishes the exchange")
            return
        }
        #expect(!machine.exchangeActive)
        let accepted = machine.requestHeadReceived()
        #expect(accepted)
    }

    /// (request ended, keep-alive): the state after a complete response.
    @Test(arguments: [
        (true, true, "idle"), (false, true, "responded"), (true, false, "closed"), (false, false, "closed"),
    ])
    func aCompleteResponseEndsOrKeepsTheExchange(requestEnded: Bool, keepAlive: Bool, expected: String) {
        var machine = Self.machine(requestEnded ? "awaiting, request ended" : "awaiting")
        let connection = FakeConnection()
        _ = machine.attached(connection)
        machine.responseStarted(on: connection)
        let completion = machine.responseCompleted(keepAlive: keepAlive)
        #expect(completion.requestEnded == requestEnded)
        switch machine.state {
        case .idle: #expect(expected == "idle")
        case .responded: #expect(expected == "responded")
        case .closed: #expect(expected == "closed")
        case .awaitingUpstream, .forwarding: Issue.record("still waiting or forwarding")
        }
    }

    @Test func readsAreHeldWhileTheRequestCannotGoAnywhere() {
        var machine = Self.machine("awaiting")
        let passedWhileWaiting = machine.readRequested()
        #expect(!passedWhileWaiting)
        #expect(machine.readHeld)
        let slow = FakeConnection()
        slow.isWritable = false
        let releasedOnSlow = machine.attached(slow)
        #expect(!releasedOnSlow, "a connection that takes no writes keeps the read held")
        let passedOnSlow = machine.readRequested()
        #expect(!passedOnSlow)
        slow.isWritable = true
        let passedOnWritable = machine.readRequested()
        #expect(passedOnWritable)
        let held = machine.takeHeldRead()
        #expect(held, "the held read goes on once the connection is writable")
        let heldAgain = machine.takeHeldRead()
        #expect(!heldAgain)

        var waiting = Self.machine("awaiting")
        _ = waiting.readRequested()
        let released = waiting.attached(FakeConnection())
        #expect(released, "a writable connection releases the held read")
        for state in ["idle", "responded", "closed"] {
            var other = Self.machine(state)
            let passed = other.readRequested()
            #expect(passed, "\(state) passes reads on")
        }
    }

    @Test func aCompletionReleasesAHeldRead() {
        let connection = FakeConnection()
        var machine = Self.machine("forwarding, response started", connection: connection)
        connection.isWritable = false
        _ = machine.readRequested()
        let completion = machine.responseCompleted(keepAlive: true)
        #expect(completion.releaseRead)
    }

    /// (ending, state after a local reply)
    @Test(arguments: [
        (LocalReply.Ending.keepOpen, true), (.closeConnection, false), (.resetStream, false),
    ])
    func aLocalReplyEndsTheExchange(ending: LocalReply.Ending, idleAfter: Bool) {
        var machine = Self.machine("awaiting, request ended")
        machine.replied(ending)
        #expect(!machine.exchangeActive)
        let accepted = machine.requestHeadReceived()
        #expect(accepted == idleAfter)
    }

    @Test func aStaleConnectionCannotStartTheResponse() {
        let current = FakeConnection()
        var machine = Self.machine("forwarding", connection: current)
        machine.responseStarted(on: FakeConnection())
        #expect(!machine.responseStarted)
        let left = machine.detached()
        #expect(left === current)
        let leftAgain = machine.detached()
        #expect(leftAgain == nil, "only a request on a connection can leave it")
    }
}
