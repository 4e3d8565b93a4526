# vmm build and test entry points. `make` builds, `make test` runs every test
# (including the ones that need /dev/kvm and io_uring), `make run` boots the
# default guest.

GO        ?= go
BIN       := bin/vmm
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)"

.PHONY: all build test lint run clean guest linux-debian linux-guest bench bench-deps

all: build

# CGO_ENABLED=0: a static binary, and the sandbox's system calls that must
# reach every thread (capabilities, no_new_privs, Landlock) then go through the
# Go runtime's AllThreadsSyscall instead of libpsx's pthread_create wrapping
# (with cgo, AllThreadsSyscall itself refuses with ENOTSUP).
build: guest
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/vmm

# The tiny test kernel; a no-op until guest/Makefile exists.
guest:
	@if [ -f guest/Makefile ]; then $(MAKE) -C guest; fi

# unsafe is allowed only in files named *_unsafe.go (and their tests), so
# every line that can break memory safety is in a file that says so.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@out=$$(git grep -l '"unsafe"' -- '*.go' | grep -v -e '_unsafe\.go$$' -e '_unsafe_test\.go$$'); \
		if [ -n "$$out" ]; then echo "\"unsafe\" imported outside *_unsafe.go files:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Debian's cloud kernel, booted by the end-to-end test in cmd/vmm.
linux-debian:
	scripts/guest-linux.sh build/linux-debian >/dev/null

# Our own Linux guest (guest/linux/vmm.config) and its busybox initramfs,
# its ACPI variant (+ guest/linux/acpi.config, an object tree of its own),
# both built from Debian's linux-source-6.1 and cached under
# build/linux-guest/ by their inputs' hash, and the ext4 root filesystem
# image (build/linux-rootfs/); booted by cmd/vmm/linux*_test.go.
linux-guest:
	scripts/guest-linux.sh build >/dev/null
	scripts/guest-linux.sh build --acpi >/dev/null
	scripts/guest-linux.sh rootfs >/dev/null

# VMM_TEST_STRICT turns a test's missing prerequisite (a build artifact,
# /dev/kvm, io_uring) from a skip into a failure: `make test` must not pass
# by skipping the tests it exists to run. The timeout is per package: cmd/vmm
# boots Linux four times, one boot at a time on the whole machine
# (/tmp/vmm-linux-boot.lock), each one to one and a half minutes alone and
# four times that or more on a busy machine, each with its own hang guard.
test: build lint linux-debian linux-guest
	VMM_TEST_STRICT=1 $(GO) test -race -count=1 -timeout 90m ./...
	# bin/vmm is built without cgo, where the sandbox's all-thread calls take
	# the runtime's own path rather than libpsx's: test that path as shipped.
	VMM_TEST_STRICT=1 CGO_ENABLED=0 $(GO) test -count=1 ./vmm/sandbox

run: build
	$(BIN) run

# vmm beside QEMU microvm and a C floor program on /dev/kvm, interleaved, one
# table (docs/performance.md). BENCH_ARGS passes flags, e.g.
# BENCH_ARGS="-only exits -rounds 5"; BENCH_LINUX=1 adds the Linux boot row.
bench: build
	$(GO) run ./scripts/bench $(BENCH_ARGS)

# What the bench compares against and draws with, from Debian.
bench-deps:
	apt-get install -y qemu-system-x86 fio gnuplot-nox gcc

clean:
	rm -rf bin
	@if [ -f guest/Makefile ]; then $(MAKE) -C guest clean; fi
