// Process-control calls Swift cannot make directly.
//
// Why this exists: prctl is variadic, and the CPU_SET family are macros over cpu_set_t; Swift imports neither. The
// lab needs both to pin components and to tie children's lifetime to the orchestrator (the process model in docs/ARCHITECTURE.md).
#pragma once
#include <sys/types.h>
// epoll (epoll_pwait2) is not part of Swift's Glibc module; importing them through here is how NIO's CNIOLinux does it.
#include <sys/epoll.h>

/// prctl(PR_SET_PDEATHSIG, signal): the kernel sends `signal` to this process when its parent thread exits.
int CLabSys_set_parent_death_signal(int signal);

/// prctl(PR_SET_TIMERSLACK, ns): how late the kernel may fire this thread's timers to batch wake-ups.
int CLabSys_set_timer_slack(unsigned long nanoseconds);

/// sched_setaffinity for `pid` (0 = the calling thread) to the listed CPUs. Returns 0 or -1 with errno set.
int CLabSys_set_affinity(pid_t pid, const int *cpus, int count);

/// The CPUs `pid` (0 = the calling thread) may run on, written to `out` (at most `capacity`); returns how many, or -1.
int CLabSys_get_affinity(pid_t pid, int *out, int capacity);
