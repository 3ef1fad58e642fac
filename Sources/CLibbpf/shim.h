#pragma once
// libbpf through the system headers (libbpf-dev). Only KernelPath imports this module.
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
