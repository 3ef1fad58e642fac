// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * meshbench node data path: the ebpf path's packets between pods (topology: pods), as Cilium forwards them
 * (docs/ARCHITECTURE.md, "Pods"). One copy of this object per lab node, its maps that node's own, like an agent's.
 *
 * tc ingress on every node-side pod veth and on the node's end of the link to the other node:
 *   to a pod on this node      rewrite the frame's addresses, bpf_redirect_peer into the pod's eth0
 *                              (no bridge, no node stack, no backlog queue)
 *   to a pod on the other node bpf_redirect_neigh out of the link (the node's route and neighbour
 *                              tables fill in the next hop: no bridge, no forwarding path)
 *   anything else              TC_ACT_OK: ARP, and whatever the lab did not route, takes the bridge
 *
 * Attached only to interfaces inside the lab's node namespaces, through links the orchestrator holds (tcx).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "meshbench_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* pod address -> where that pod is, for pods on this node */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_PODS);
	__type(key, __be32);
	__type(value, struct mb_endpoint);
} endpoints SEC(".maps");

/* pod addresses on the other node: sent out of the link */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_PODS);
	__type(key, __be32);
	__type(value, __u32);
} remote_pods SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mb_node_config);
} node_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mb_node_stats);
} node_stats SEC(".maps");

SEC("tc")
int node_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct mb_node_config *cfg;
	struct mb_node_stats *st;
	struct mb_endpoint *ep;
	struct iphdr *ip;
	__u32 zero = 0;
	__be32 daddr;
	long rc;

	/* per-CPU slot: plain adds are safe, tc ingress does not nest on a CPU */
	st = bpf_map_lookup_elem(&node_stats, &zero);
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		goto pass;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		goto pass;
	daddr = ip->daddr;

	ep = bpf_map_lookup_elem(&endpoints, &daddr);
	if (ep) {
		/* the pod drops a frame that is not addressed to its own eth0 */
		if (bpf_skb_store_bytes(skb, 0, ep->mac, ETH_ALEN, 0) ||
		    bpf_skb_store_bytes(skb, ETH_ALEN, ep->node_mac, ETH_ALEN, 0))
			goto failed;
		rc = bpf_redirect_peer(ep->ifindex, 0);
		if (rc != TC_ACT_REDIRECT)
			goto failed;
		if (st)
			st->peer += 1;
		return rc;
	}
	if (bpf_map_lookup_elem(&remote_pods, &daddr)) {
		cfg = bpf_map_lookup_elem(&node_config, &zero);
		if (!cfg || !cfg->link_ifindex)
			goto pass;
		rc = bpf_redirect_neigh(cfg->link_ifindex, 0, 0, 0);
		if (rc != TC_ACT_REDIRECT)
			goto failed;
		if (st)
			st->neigh += 1;
		return rc;
	}
pass:
	if (st)
		st->passed += 1;
	return TC_ACT_OK;
failed:
	if (st)
		st->failed += 1;
	return TC_ACT_SHOT;
}
