/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Structs shared by mesh.bpf.c and KernelPath (Swift). Every field is fixed
 * width and every struct is padded by hand to a multiple of 8 bytes, so the
 * layout is the same for clang -target bpf and for the Swift side, which
 * mirrors these structs byte for byte (KernelPath/MeshMaps.swift). Addresses
 * and ports are in network byte order, as the kernel hands them out.
 */
#ifndef __MESHBENCH_BPF_H
#define __MESHBENCH_BPF_H

#include <linux/types.h>

/* service ids index the stats array: 0 is "not a known service" */
#define MB_MAX_SERVICES		1024
#define MB_MAX_BACKENDS		65536
#define MB_MAX_SOCKETS		65535
#define MB_MAX_ORIG_DST		65535

/* mb_config.mode */
#define MB_MODE_BALANCE		0	/* connect4: service VIP -> backend */
#define MB_MODE_STEER		1	/* connect4: service address -> sidecar */

/* a TCP connection seen from one end; key of sock_hash and pair_orig (12 B) */
struct mb_key4 {
	__be32 sip;
	__be32 dip;
	__be16 sport;
	__be16 dport;
};

/* svc map key: a service address (8 B) */
struct mb_svc_key {
	__be32 vip;
	__be16 port;
	__u16 pad;
};

/* svc map value (8 B): count == 0 makes connect() fail with EHOSTUNREACH */
struct mb_svc_value {
	__u32 svc_id;
	__u32 count;
};

/* backend map key, Cilium's slot scheme flattened: slots 0..count-1 (8 B) */
struct mb_backend_key {
	__u32 svc_id;
	__u32 slot;
};

/* backend map value (8 B) */
struct mb_backend_value {
	__be32 ip;
	__be16 port;
	__u16 pad;
};

/* original destination of a steered connection (8 B) */
struct mb_orig_dst {
	__be32 ip;
	__be16 port;
	__u16 svc_id;
};

/* policy map value (8 B): deny != 0 makes connect() fail with EPERM */
struct mb_policy {
	__u32 deny;
	__u32 pad;
};

/* config array, one entry (8 B); written by the loader before attach */
struct mb_config {
	__be32 sidecar_ip;
	__be16 sidecar_port;
	__u16 mode;
};

/* per-socket storage set by connect4 (8 B) */
struct mb_conn {
	__u32 svc_id;
	__u32 pad;
};

/* per-CPU counters per service id (80 B) */
struct mb_svc_stats {
	__u64 conns;		/* connects translated or steered */
	__u64 bytes;		/* sk_msg payload bytes */
	__u64 msgs;		/* sk_msg calls (sendmsg/sendfile) */
	__u64 requests;		/* messages starting with an HTTP method */
	__u64 redirects;	/* bpf_msg_redirect_hash found the peer */
	__u64 misses;		/* ... did not: the message went through TCP */
	__u64 denied;		/* connects refused by policy (EPERM) */
	__u64 unreachable;	/* connects to a service with no backend */
	__u64 sockets;		/* sockets inserted into sock_hash */
	__u64 pad;
};

#endif /* __MESHBENCH_BPF_H */
