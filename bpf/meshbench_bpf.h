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
#define MB_MAX_PODS		1024

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

/* mb_config.flags */
#define MB_CFG_PROXY_UID	1	/* steer: the proxy is known by its uid (pods: app and proxy share a cgroup) */

/* config array, one entry (16 B); written by the loader before attach */
struct mb_config {
	__be32 sidecar_ip;
	__be16 sidecar_port;
	__u16 mode;
	__u32 sidecar_uid;	/* with MB_CFG_PROXY_UID: connects by this uid are the proxy's own */
	__be16 inbound_port;	/* the proxy's connect to a meshed pod on its node goes to this port (Merbridge) */
	__u16 flags;
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
	__u64 inbound;		/* proxy connects sent to a same-node pod's inbound sidecar */
};

/* node.bpf.c: a pod on the node whose tc program this is (16 B) */
struct mb_endpoint {
	__u32 ifindex;		/* the node-side end of the pod's veth pair */
	__u8 mac[6];		/* the pod's eth0 */
	__u8 node_mac[6];	/* the node-side end's own address, the frame's new source */
};

/* node.bpf.c: what the tc program did, per CPU (32 B) */
struct mb_node_stats {
	__u64 peer;		/* packets sent into a local pod with bpf_redirect_peer */
	__u64 neigh;		/* packets sent toward the other node with bpf_redirect_neigh */
	__u64 passed;		/* packets left to the stack (not IPv4, ARP, or no lab route) */
	__u64 failed;		/* redirect helpers that returned an error (the packet is dropped) */
};

/* node.bpf.c config, one entry (8 B) */
struct mb_node_config {
	__u32 link_ifindex;	/* this node's end of the link to the other node; 0: one node */
	__u32 pad;
};

#endif /* __MESHBENCH_BPF_H */
