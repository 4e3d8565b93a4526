// Package testutil holds small helpers shared by tests in several packages.
// Nothing outside _test.go files imports it.
package testutil

import "vmm/internal/syncbuf"

// SyncBuffer is syncbuf.Buffer, under the name the tests know it by.
type SyncBuffer = syncbuf.Buffer
