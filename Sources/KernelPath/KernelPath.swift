// KernelPath
