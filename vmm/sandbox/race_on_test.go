//go:build race

package sandbox

// raceEnabled: the race detector's own threads (which block every signal
// and make system calls vmm never makes) share the escape children.
const raceEnabled = true
