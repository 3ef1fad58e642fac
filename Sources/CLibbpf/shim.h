#pragma once
// libbpf through the system headers (libbpf-dev). Only KernelPath imports this module.
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
// The structs mesh.bpf.c shares with KernelPath, so Swift reads and writes map entries with the compiler's own
// layout of them instead of a hand-kept mirror.
#include "../../bpf/meshbench_bpf.h"
