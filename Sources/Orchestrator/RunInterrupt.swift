#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT/SIGTERM in `meshbench run`: finish the current measurement, write what was measured, clean up.
/// A global because a signal handler can reach nothing else; the runner and the round executor only read it.
nonisolated(unsafe) public var runInterruptRequested: sig_atomic_t = 0
