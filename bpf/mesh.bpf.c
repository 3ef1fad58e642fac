// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * meshbench kernel data path (the ebpf and sidecar-ebpf paths, docs/ARCHITECTURE.md).
 *
 * cgroup/connect4  service address -> random backend (MB_MODE_BALANCE) or ->
 *                  the outbound sidecar (MB_MODE_STEER), deny by policy; in
 *                  pods (MB_CFG_PROXY_UID) the proxy's own connect to a
 *                  meshed pod on its node goes to that pod's inbound port,
 *                  as Merbridge does
 * sockops          put every established socket whose two ends are in one
 *                  namespace (loopback) or on one lab node into sock_hash
 * sk_msg           count per service, redirect the payload into the peer
 *                  socket's receive queue (BPF_F_INGRESS), always SK_PASS
 * cgroup/getsockopt answer SO_ORIGINAL_DST for steered connections
 *
 * Refused connects: policy deny returns 0 with no retval, so connect() fails
 * with EPERM; a service with no backend sets -EHOSTUNREACH with
 * bpf_set_retval() (5.18+) and returns 0, as Cilium's socket LB does.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/socket.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "meshbench_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MB_EHOSTUNREACH		113
#define MB_SOL_IP		0
#define MB_SO_ORIGINAL_DST	80
#define MB_PAGE_SIZE		4096
#define MB_AF_INET		2

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_SERVICES);
	__type(key, struct mb_svc_key);
	__type(value, struct mb_svc_value);
} svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_BACKENDS);
	__type(key, struct mb_backend_key);
	__type(value, struct mb_backend_value);
} backend SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct mb_policy);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mb_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct mb_svc_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, MB_MAX_SOCKETS);
	__type(key, struct mb_key4);
	__type(value, __u64);
} sock_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MB_MAX_ORIG_DST);
	__type(key, __u64);
	__type(value, struct mb_orig_dst);
} cookie_orig SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MB_MAX_ORIG_DST);
	__type(key, struct mb_key4);
	__type(value, struct mb_orig_dst);
} pair_orig SEC(".maps");

/* pod address -> its node (1, 2): sockops joins two pods' sockets only on one node */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_PODS);
	__type(key, __be32);
	__type(value, __u32);
} lab_node SEC(".maps");

/* meshed pods on the steering node (Merbridge's local_pod_ips): the proxy's connects to them go to the inbound port */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_PODS);
	__type(key, __be32);
	__type(value, __u32);
} local_pods SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mb_conn);
} conn_store SEC(".maps");

static __always_inline struct mb_svc_stats *svc_stats(__u32 svc_id)
{
	if (svc_id >= MB_MAX_SERVICES)
		svc_id = 0;
	return bpf_map_lookup_elem(&stats, &svc_id);
}

static __always_inline int is_loopback(__be32 ip)
{
	return (bpf_ntohl(ip) >> 24) == 127;
}

/*
 * May the two ends of a connection be joined socket to socket? Both on loopback (one namespace), or two pod
 * addresses the loader put on the same node. Pods on different nodes never are: that would skip the link between
 * the nodes, which a real mesh cannot. The loader only writes 198.18.0.0/15 addresses, which exist only inside the
 * lab's namespaces.
 */
static __always_inline int same_node(__be32 local, __be32 remote)
{
	__u32 *a, *b;

	if (is_loopback(local) && is_loopback(remote))
		return 1;
	a = bpf_map_lookup_elem(&lab_node, &local);
	b = bpf_map_lookup_elem(&lab_node, &remote);
	return a && b && *a == *b;
}

static __always_inline void tag_socket(struct bpf_sock *sk, __u32 svc_id)
{
	struct mb_conn *conn;

	conn = bpf_sk_storage_get(&conn_store, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (conn)
		conn->svc_id = svc_id;
}

/* where a steered connect meant to go, by its socket's cookie; sockops moves it to pair_orig by 4-tuple */
static __always_inline void remember_original(struct bpf_sock_addr *ctx, struct mb_svc_key *key, __u32 svc_id)
{
	struct mb_orig_dst orig = {};
	__u64 cookie = bpf_get_socket_cookie(ctx);

	orig.ip = key->vip;
	orig.port = key->port;
	orig.svc_id = (__u16)svc_id;
	bpf_map_update_elem(&cookie_orig, &cookie, &orig, BPF_ANY);
}

SEC("cgroup/connect4")
int mesh_connect4(struct bpf_sock_addr *ctx)
{
	struct mb_svc_key key = {};
	struct mb_backend_key bkey = {};
	struct mb_svc_value *service;
	struct mb_backend_value *be;
	struct mb_svc_stats *st;
	struct mb_policy *deny;
	struct mb_config *cfg;
	struct bpf_sock *sk;
	__u32 zero = 0;

	if (ctx->protocol != IPPROTO_TCP)
		return 1;
	/* user_port is a u32 holding a network-order u16: read it whole */
	key.vip = ctx->user_ip4;
	key.port = (__be16)ctx->user_port;
	service = bpf_map_lookup_elem(&svc, &key);
	if (!service)
		return 1;
	st = svc_stats(service->svc_id);

	/* policy first: a denied service fails with EPERM whatever its mode */
	deny = bpf_map_lookup_elem(&policy, &service->svc_id);
	if (deny && deny->deny) {
		if (st)
			__sync_fetch_and_add(&st->denied, 1);
		return 0;
	}

	cfg = bpf_map_lookup_elem(&config, &zero);
	if (cfg && cfg->mode == MB_MODE_STEER && (cfg->flags & MB_CFG_PROXY_UID) &&
	    (__u32)bpf_get_current_uid_gid() == cfg->sidecar_uid) {
		/*
		 * The proxy's own connect (pods: app and proxy share the pod's cgroup, Merbridge tells them apart by uid).
		 * To a meshed pod on this node it goes straight to that pod's inbound sidecar; to any other it goes as it
		 * is, and the destination pod's iptables rules catch it.
		 */
		if (!cfg->inbound_port || !bpf_map_lookup_elem(&local_pods, &key.vip))
			return 1;
		remember_original(ctx, &key, service->svc_id);
		ctx->user_port = (__u32)cfg->inbound_port;
		sk = ctx->sk;
		if (sk)
			tag_socket(sk, service->svc_id);
		if (st)
			__sync_fetch_and_add(&st->inbound, 1);
		return 1;
	}
	if (cfg && cfg->mode == MB_MODE_STEER) {
		/* never steer the sidecar's own listener back onto itself */
		if (key.vip == cfg->sidecar_ip && key.port == cfg->sidecar_port)
			return 1;
		remember_original(ctx, &key, service->svc_id);
		ctx->user_ip4 = cfg->sidecar_ip;
		ctx->user_port = (__u32)cfg->sidecar_port;
	} else {
		if (service->count == 0) {
			if (st)
				__sync_fetch_and_add(&st->unreachable, 1);
			bpf_set_retval(-MB_EHOSTUNREACH);
			return 0;
		}
		bkey.svc_id = service->svc_id;
		bkey.slot = bpf_get_prandom_u32() % service->count;
		be = bpf_map_lookup_elem(&backend, &bkey);
		if (!be) {
			/* a slot hole is a loader bug; fail like an empty service */
			if (st)
				__sync_fetch_and_add(&st->unreachable, 1);
			bpf_set_retval(-MB_EHOSTUNREACH);
			return 0;
		}
		ctx->user_ip4 = be->ip;
		ctx->user_port = (__u32)be->port;
	}

	sk = ctx->sk;
	if (sk)
		tag_socket(sk, service->svc_id);
	if (st)
		__sync_fetch_and_add(&st->conns, 1);
	return 1;
}

SEC("sockops")
int mesh_sockops(struct bpf_sock_ops *skops)
{
	struct mb_key4 key = {};
	struct mb_orig_dst *orig;
	struct mb_svc_stats *st;
	struct mb_conn *conn;
	struct bpf_sock *sk;
	__u32 op = skops->op;
	__u32 svc_id = 0;
	__u64 cookie;

	/* sockops runs for many ops per connection: filter on op first */
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (skops->family != MB_AF_INET)
		return 1;
	/* only lab peers in one namespace or on one node: never a real network path, nor the link between two nodes */
	if (!same_node(skops->local_ip4, skops->remote_ip4))
		return 1;

	/* the socket's own view; sk_msg builds the peer's view of the same key */
	key.sip = skops->local_ip4;
	key.dip = skops->remote_ip4;
	key.sport = bpf_htons((__u16)skops->local_port);
	key.dport = (__be16)(skops->remote_port >> 16);

	if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		/* a steered connect: keep its original destination by 4-tuple */
		cookie = bpf_get_socket_cookie(skops);
		orig = bpf_map_lookup_elem(&cookie_orig, &cookie);
		if (orig) {
			bpf_map_update_elem(&pair_orig, &key, orig, BPF_ANY);
			bpf_map_delete_elem(&cookie_orig, &cookie);
		}
	}

	sk = skops->sk;
	if (sk) {
		conn = bpf_sk_storage_get(&conn_store, sk, 0, 0);
		if (conn)
			svc_id = conn->svc_id;
	}
	if (bpf_sock_hash_update(skops, &sock_hash, &key, BPF_NOEXIST) == 0) {
		st = svc_stats(svc_id);
		if (st)
			__sync_fetch_and_add(&st->sockets, 1);
	}
	return 1;
}

/* does the message start with an HTTP/1 request method and a space? */
static __always_inline int starts_with_method(struct sk_msg_md *msg)
{
	__u8 *data, *end;
	__u32 len = msg->size;

	if (len < 4)
		return 0;
	if (len > 8)
		len = 8;
	data = msg->data;
	end = msg->data_end;
	if (data + 8 > end && data + len > end) {
		/* not linear (sendfile, or a page boundary): pull as little as we can */
		if (bpf_msg_pull_data(msg, 0, len, 0))
			return 0;
		data = msg->data;
		end = msg->data_end;
	}
	if (data + 4 > end)
		return 0;
	if (data[0] == 'G' && data[1] == 'E' && data[2] == 'T' && data[3] == ' ')
		return 1;
	if (data[0] == 'P' && data[1] == 'U' && data[2] == 'T' && data[3] == ' ')
		return 1;
	if (data + 5 > end)
		return 0;
	if (data[0] == 'P' && data[1] == 'O' && data[2] == 'S' && data[3] == 'T' && data[4] == ' ')
		return 1;
	if (data[0] == 'H' && data[1] == 'E' && data[2] == 'A' && data[3] == 'D' && data[4] == ' ')
		return 1;
	if (data + 6 > end)
		return 0;
	if (data[0] == 'P' && data[1] == 'A' && data[2] == 'T' && data[3] == 'C' && data[4] == 'H' && data[5] == ' ')
		return 1;
	if (data[0] == 'T' && data[1] == 'R' && data[2] == 'A' && data[3] == 'C' && data[4] == 'E' && data[5] == ' ')
		return 1;
	if (data + 7 > end)
		return 0;
	if (data[0] == 'D' && data[1] == 'E' && data[2] == 'L' && data[3] == 'E' && data[4] == 'T' && data[5] == 'E' &&
	    data[6] == ' ')
		return 1;
	if (data + 8 > end)
		return 0;
	if (data[0] == 'O' && data[1] == 'P' && data[2] == 'T' && data[3] == 'I' && data[4] == 'O' && data[5] == 'N' &&
	    data[6] == 'S' && data[7] == ' ')
		return 1;
	if (data[0] == 'C' && data[1] == 'O' && data[2] == 'N' && data[3] == 'N' && data[4] == 'E' && data[5] == 'C' &&
	    data[6] == 'T' && data[7] == ' ')
		return 1;
	return 0;
}

SEC("sk_msg")
int mesh_sk_msg(struct sk_msg_md *msg)
{
	struct mb_key4 peer = {};
	struct mb_svc_stats *st;
	struct mb_conn *conn;
	__u32 svc_id = 0;
	long verdict;
	int request;

	conn = bpf_sk_storage_get(&conn_store, msg->sk, 0, 0);
	if (conn)
		svc_id = conn->svc_id;
	request = starts_with_method(msg);

	/* the peer's view of this connection: its key in sock_hash */
	peer.sip = msg->remote_ip4;
	peer.dip = msg->local_ip4;
	peer.sport = (__be16)(msg->remote_port >> 16);
	peer.dport = bpf_htons((__u16)msg->local_port);
	verdict = bpf_msg_redirect_hash(msg, &sock_hash, &peer, BPF_F_INGRESS);

	st = svc_stats(svc_id);
	if (st) {
		/* per-CPU slot: plain adds are safe, sk_msg does not nest on a CPU */
		st->bytes += msg->size;
		st->msgs += 1;
		st->requests += request;
		if (verdict == SK_PASS)
			st->redirects += 1;
		else
			st->misses += 1;
	}
	/* SK_DROP would fail the sender's sendmsg with EACCES: always pass */
	return SK_PASS;
}

SEC("cgroup/getsockopt")
int mesh_getsockopt(struct bpf_sockopt *ctx)
{
	struct mb_key4 key = {};
	struct sockaddr_in *sa;
	struct mb_orig_dst *orig;
	struct bpf_sock *sk;

	/* the kernel rejects a program result above one page (Merbridge) */
	if (ctx->optlen > MB_PAGE_SIZE)
		ctx->optlen = MB_PAGE_SIZE;
	if (ctx->level != MB_SOL_IP || ctx->optname != MB_SO_ORIGINAL_DST)
		return 1;
	sk = ctx->sk;
	if (!sk)
		return 1;
	/* the app's view, seen from the sidecar's accepted socket */
	key.sip = sk->dst_ip4;
	key.dip = sk->src_ip4;
	key.sport = sk->dst_port;
	key.dport = bpf_htons((__u16)sk->src_port);
	orig = bpf_map_lookup_elem(&pair_orig, &key);
	if (!orig)
		return 1;
	sa = ctx->optval;
	if ((void *)(sa + 1) > ctx->optval_end)
		return 1;
	sa->sin_family = MB_AF_INET;
	sa->sin_addr.s_addr = orig->ip;
	sa->sin_port = orig->port;
	ctx->optlen = sizeof(*sa);
	/* keep clang from merging the two 4-byte ctx stores into one 8-byte store */
	asm volatile("" ::: "memory");
	/* no conntrack entry: override the kernel's ENOPROTOOPT/ENOENT */
	ctx->retval = 0;
	return 1;
}
