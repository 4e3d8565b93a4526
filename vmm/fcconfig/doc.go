// Package fcconfig is Firecracker's configuration model as vmm speaks it:
// the JSON of `firecracker --config-file` and of the API's request bodies
// (boot-source, drives, machine-config, logger, metrics), decoded
// strictly, validated, and turned into what vmm.New needs.
//
// The names and shapes are Firecracker's (src/firecracker/swagger/
// firecracker.yaml in its repository); docs/api.md lists every field, what
// vmm does with it, and what it refuses. Firecracker features vmm does not
// have (network interfaces, vsock, balloon, MMDS, entropy, ...) are
// accepted when null or empty, so that configurations written for
// Firecracker load unchanged, and refused by name when they ask for
// something.
package fcconfig
