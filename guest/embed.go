// Package guest carries the project's tiny test kernel (built from the C and
// assembly in this folder by guest/Makefile) inside the Go binary, so `vmm
// run` and the integration tests can boot it without a separate file.
package guest

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
)

// build/ holds only build/.gitkeep in a fresh clone (so this compiles before
// make) and build/tiny.elf after `make`.
//
//go:embed all:build
var buildFS embed.FS

// tinyKernelFile is the kernel's path inside buildFS.
const tinyKernelFile = "build/tiny.elf"

// ErrNotBuilt means the binary was compiled before guest/Makefile produced the kernel.
var ErrNotBuilt = errors.New("the tiny test kernel is not built: run `make`")

// TinyKernel returns the tiny test kernel: an ELF64 x86-64 image linked at
// 1 MiB with a Xen PVH entry note (see docs/guest.md for its boot contract
// and command line). It returns ErrNotBuilt if the Go build ran before make.
func TinyKernel() ([]byte, error) {
	b, err := buildFS.ReadFile(tinyKernelFile)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0) {
		return nil, ErrNotBuilt
	}
	if err != nil {
		return nil, fmt.Errorf("reading the embedded tiny test kernel: %w", err)
	}
	return b, nil
}
