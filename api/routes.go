package api

import (
	"net/http"
	"strings"
)

// route dispatches a request by method and path. Anything else is a 400
// naming the method and path, as Firecracker answers it.
// Preconditions: s.mu held.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	m := r.Method
	switch {
	case path == "" && m == http.MethodGet:
		s.getInstance(w)
	case path == "/version" && m == http.MethodGet:
		s.getVersion(w)
	case path == "/machine-config" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, s.res.MachineOut())
	case path == "/machine-config" && (m == http.MethodPut || m == http.MethodPatch):
		s.putMachineConfig(w, r, m == http.MethodPatch)
	case path == "/boot-source" && m == http.MethodPut:
		s.putBootSource(w, r)
	case strings.HasPrefix(path, "/drives/") && (m == http.MethodPut || m == http.MethodPatch):
		id := strings.TrimPrefix(path, "/drives/")
		if m == http.MethodPut {
			s.putDrive(w, r, id)
		} else {
			s.patchDrive(w, r, id)
		}
	case path == "/logger" && m == http.MethodPut:
		s.putLogger(w, r)
	case path == "/metrics" && m == http.MethodPut:
		s.putMetrics(w, r)
	case path == "/actions" && m == http.MethodPut:
		s.putAction(w, r)
	case path == "/vm/config" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, s.res.VMConfig())
	default:
		if what, ok := unsupported(path); ok {
			badRequest(w, r, "%s %s: vmm does not have %s", m, r.URL.Path, what)
			return
		}
		badRequest(w, r, "invalid request method and/or path: %s %s", m, r.URL.Path)
	}
}

// unsupported names what a Firecracker endpoint vmm does not serve is for.
func unsupported(path string) (string, bool) {
	for _, e := range []struct{ prefix, what string }{
		{"/balloon", "a balloon device"},
		{"/cpu-config", "custom CPU templates"},
		{"/entropy", "an entropy device"},
		{"/hotplug/memory", "hotpluggable memory (virtio-mem)"},
		{"/mmds", "the microVM metadata service (MMDS)"},
		{"/network-interfaces", "network interfaces"},
		{"/pmem", "virtio-pmem devices"},
		{"/serial", "a serial output path (use vmm run --console file:PATH)"},
		{"/snapshot", "snapshots"},
		{"/vm", "pause and resume"},
		{"/vsock", "a vsock device"},
	} {
		if path == e.prefix || strings.HasPrefix(path, e.prefix+"/") {
			return e.what, true
		}
	}
	return "", false
}

// preBoot refuses a request that only applies before InstanceStart.
// Preconditions: s.mu held.
func (s *Server) preBoot(w http.ResponseWriter, r *http.Request) bool {
	if s.state == StateNotStarted {
		return true
	}
	badRequest(w, r, "%s %s is not allowed while the VM is %s: it configures the VM before InstanceStart", r.Method, r.URL.Path, s.state)
	return false
}

// postBoot refuses a request that only applies to a running VM.
// Preconditions: s.mu held.
func (s *Server) postBoot(w http.ResponseWriter, r *http.Request) bool {
	if s.state == StateRunning {
		return true
	}
	badRequest(w, r, "%s %s is not allowed while the VM is %s: it acts on a running VM (start it with InstanceStart first)", r.Method, r.URL.Path, s.state)
	return false
}
