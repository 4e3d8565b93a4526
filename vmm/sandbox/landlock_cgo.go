//go:build linux && cgo

package sandbox

// psxListsTasks: with cgo, all-thread calls go through libpsx, which reads
// /proc/PID/task after each one (landlock.go).
const psxListsTasks = true
