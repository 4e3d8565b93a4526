package main

import "vmm/guest"

// embeddedKernel returns the tiny test kernel built into the binary.
func embeddedKernel() ([]byte, error) { return guest.TinyKernel() }
