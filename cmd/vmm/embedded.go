package main

import "vmm/guest"

// embeddedKernelName names the built-in kernel in messages; one word,
// since multiboot passes it as argv[0].
const embeddedKernelName = "built-in:tiny.elf"

// embeddedKernel returns the tiny test kernel built into the binary.
func embeddedKernel() ([]byte, error) { return guest.TinyKernel() }
