// This module exists only to benchmark lockfree.Map against xsync.Map
// without adding xsync to the vmm module's own go.mod. It is not part of the
// vmm build; `go test ./...` at the repository root skips it.
module vmm/lockfree/bench

go 1.26.0

require (
	github.com/puzpuzpuz/xsync/v4 v4.5.0
	vmm v0.0.0
)

replace vmm => ../..
