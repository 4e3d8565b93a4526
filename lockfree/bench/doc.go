// Package bench compares lockfree.Map's reads with sync.Map, xsync.Map and
// a map guarded by sync.RWMutex. It holds only benchmarks; see
// docs/lockfree.md for how to run them and the results.
package bench
