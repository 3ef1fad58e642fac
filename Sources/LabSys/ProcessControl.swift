import CLabSys

#if canImport(Glibc)
import Glibc
#endif

/// prctl settings of the calling process or thread.
public enum ProcessControl {
    /// PR_SET_PDEATHSIG: the kernel sends `signal` to this process when the thread that created it exits, so a
    /// component never outlives the orchestrator that started it.
    public static func setParentDeathSignal(_ signal: Int32) throws(SysError) {
        try sysCall("prctl(PR_SET_PDEATHSIG)") { CLabSys_set_parent_death_signal(signal) }
    }

    /// PR_SET_TIMERSLACK: how late the kernel may fire the calling thread's timers to batch wake-ups.
    public static func setTimerSlack(nanoseconds: UInt) throws(SysError) {
        try sysCall("prctl(PR_SET_TIMERSLACK)") { CLabSys_set_timer_slack(nanoseconds) }
    }
}
