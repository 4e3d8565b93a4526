// Package api serves Firecracker's HTTP API on a Unix socket, so that
// tools written for Firecracker (firecracker-go-sdk, firectl, flintlock,
// Kata Containers, firecracker-containerd) can configure, start and drive
// vmm. Requests, responses, status codes and the error body
// {"fault_message": "..."} follow Firecracker's API specification
// (src/firecracker/swagger/firecracker.yaml in its repository);
// docs/api.md lists every endpoint, supported or refused.
//
// The server owns the pre-boot configuration (fcconfig.Resources) and
// hands it to a Machine on InstanceStart; the Machine (cmd/vmm) builds
// and runs the VM. After the start the server only uses ordinary socket
// system calls (accept, read, write, close, epoll) through net/http.
package api
