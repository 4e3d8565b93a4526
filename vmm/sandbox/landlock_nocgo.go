//go:build linux && !cgo

package sandbox

// psxListsTasks: without cgo, all-thread calls go through the Go
// runtime's AllThreadsSyscall, which reads nothing from /proc.
const psxListsTasks = false
