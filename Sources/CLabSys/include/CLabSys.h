// Process-control calls Swift cannot make directly.
//
// Why this exists: prctl is variadic, and the CPU_SET family are macros over cpu_set_t; Swift imports neither. setns,
// unshare and strerrorname_np are GNU extensions that Swift's Glibc module does not declare. The lab needs these to
// pin components, to tie a child's lifetime to the orchestrator (a child dies with it), to enter network namespaces
// and to name errno values in messages. Only the LabSys module imports this.
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

/// setns(fd, nstype): moves the calling thread into the namespace `fd` refers to. Returns 0 or -1 with errno set.
int CLabSys_setns(int fd, int nstype);

/// unshare(flags): gives the calling thread new namespaces of the kinds in `flags`. Returns 0 or -1 with errno set.
int CLabSys_unshare(int flags);

/// CLONE_NEWNET and CLONE_NEWNS, which Swift's Glibc module leaves out with the rest of <sched.h>'s GNU part.
int CLabSys_clone_new_network(void);
int CLabSys_clone_new_mount(void);

/// The symbolic name of an errno value ("EACCES"), or NULL when glibc has none for it.
const char *CLabSys_errno_name(int code);
