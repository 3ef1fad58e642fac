#define _GNU_SOURCE
#include "CLabSys.h"
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>

int CLabSys_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0);
}

int CLabSys_set_timer_slack(unsigned long nanoseconds) {
    return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0);
}

int CLabSys_set_affinity(pid_t pid, const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(pid, sizeof(set), &set);
}

int CLabSys_get_affinity(pid_t pid, int *out, int capacity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(pid, sizeof(set), &set) != 0) return -1;
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < capacity; cpu++) {
        if (CPU_ISSET(cpu, &set)) out[n++] = cpu;
    }
    return n;
}

int CLabSys_setns(int fd, int nstype) {
    return setns(fd, nstype);
}

int CLabSys_unshare(int flags) {
    return unshare(flags);
}

int CLabSys_clone_new_network(void) {
    return CLONE_NEWNET;
}

int CLabSys_clone_new_mount(void) {
    return CLONE_NEWNS;
}

const char *CLabSys_errno_name(int code) {
    return strerrorname_np(code);
}
