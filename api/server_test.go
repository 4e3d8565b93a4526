package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vmm/vmm/fcconfig"
)

// recordingMachine stands in for cmd/vmm's VM wiring: these tests are
// about the protocol (status codes, bodies, states); cmd/vmm's tests drive
// the same server with a real VM.
type recordingMachine struct {
	mu       sync.Mutex
	calls    []string
	startErr error
}

func (m *recordingMachine) record(s string) {
	m.mu.Lock()
	m.calls = append(m.calls, s)
	m.mu.Unlock()
}

func (m *recordingMachine) Start(res *fcconfig.Resources) error {
	m.record("start " + res.KernelPath)
	return m.startErr
}
func (m *recordingMachine) SendCtrlAltDel() error { m.record("ctrlaltdel"); return nil }
func (m *recordingMachine) UpdateDrive(i int, p string) error {
	m.record(fmt.Sprintf("update %d %s", i, p))
	if strings.Contains(p, "missing") {
		return errors.New("disk " + p + " does not exist")
	}
	return nil
}
func (m *recordingMachine) ConfigureLogger(l fcconfig.LoggerConfig) error {
	m.record("logger " + l.Level)
	return nil
}
func (m *recordingMachine) ConfigureMetrics(p string) error { m.record("metrics " + p); return nil }
func (m *recordingMachine) FlushMetrics() error             { m.record("flush"); return nil }

// client talks HTTP over the server's Unix socket.
type client struct {
	t *testing.T
	c *http.Client
}

func serve(t *testing.T, m Machine, running bool) *client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	res := fcconfig.NewResources(fcconfig.Machine{VCPUs: 1, MemSize: 256 << 20})
	s := New(Options{Version: "1.2.3", Machine: m, Resources: res, Running: running})
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &client{t: t, c: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}, Timeout: 10 * time.Second}}
}

func (c *client) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, "http://localhost"+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// faultOf checks that body is exactly {"fault_message": "..."} and returns
// the message.
func faultOf(t *testing.T, body string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil || len(m) != 1 {
		t.Fatalf("error body %q is not {\"fault_message\": ...}", body)
	}
	msg, ok := m["fault_message"].(string)
	if !ok {
		t.Fatalf("error body %q has no fault_message string", body)
	}
	return msg
}

func keysOf(t *testing.T, body string) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestAPIPreBootFlow: the getting-started sequence, checked request by
// request against the swagger's status codes and body shapes.
func TestAPIPreBootFlow(t *testing.T) {
	m := &recordingMachine{}
	c := serve(t, m, false)
	code, body := c.do("GET", "/", "")
	if code != 200 || strings.Join(keysOf(t, body), ",") != "app_name,id,state,vmm_version" ||
		!strings.Contains(body, `"state":"Not started"`) || !strings.Contains(body, `"id":"anonymous-instance"`) {
		t.Fatalf("GET /: %d %s", code, body)
	}
	if code, body := c.do("GET", "/version", ""); code != 200 || body != `{"firecracker_version":"1.2.3"}` {
		t.Errorf("GET /version: %d %s", code, body)
	}
	steps := []struct{ method, path, body string }{
		{"PUT", "/logger", `{"log_path": "/tmp/x.log", "level": "Debug", "show_level": true, "show_log_origin": true}`},
		{"PUT", "/metrics", `{"metrics_path": "/tmp/metrics.fifo"}`},
		{"PUT", "/boot-source", `{"kernel_image_path": "/k", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"}`},
		{"PUT", "/drives/rootfs", `{"drive_id": "rootfs", "path_on_host": "/r.ext4", "is_root_device": true, "is_read_only": false}`},
		{"PUT", "/machine-config", `{"vcpu_count": 2, "mem_size_mib": 1024}`},
		{"PATCH", "/machine-config", `{"vcpu_count": 1}`},
		{"PUT", "/actions", `{"action_type": "FlushMetrics"}`},
		{"PUT", "/actions", `{"action_type": "InstanceStart"}`},
	}
	for _, s := range steps {
		if code, body := c.do(s.method, s.path, s.body); code != 204 || body != "" {
			t.Fatalf("%s %s: %d %q, want 204 and no body", s.method, s.path, code, body)
		}
	}
	if code, body := c.do("GET", "/machine-config", ""); code != 200 || body != `{"vcpu_count":1,"mem_size_mib":1024,"smt":false,"track_dirty_pages":false,"huge_pages":"None"}` {
		t.Errorf("GET /machine-config: %d %s", code, body)
	}
	if _, body := c.do("GET", "/", ""); !strings.Contains(body, `"state":"Running"`) {
		t.Errorf("after InstanceStart: %s", body)
	}
	code, body = c.do("GET", "/vm/config", "")
	if code != 200 || !strings.Contains(body, `"drive_id":"rootfs"`) || !strings.Contains(body, `"kernel_image_path":"/k"`) {
		t.Errorf("GET /vm/config: %d %s", code, body)
	}
	if code, _ := c.do("PATCH", "/drives/rootfs", `{"drive_id": "rootfs", "path_on_host": "/new.ext4"}`); code != 204 {
		t.Errorf("PATCH /drives after start: %d", code)
	}
	if _, body := c.do("GET", "/vm/config", ""); !strings.Contains(body, `"path_on_host":"/new.ext4"`) {
		t.Errorf("GET /vm/config after PATCH: %s", body)
	}
	if code, _ := c.do("PUT", "/actions", `{"action_type": "SendCtrlAltDel"}`); code != 204 {
		t.Errorf("SendCtrlAltDel: %d", code)
	}
	want := []string{"logger Debug", "metrics /tmp/metrics.fifo", "flush", "start /k", "update 0 /new.ext4", "ctrlaltdel"}
	if !slices.Equal(m.calls, want) {
		t.Errorf("machine calls %q, want %q", m.calls, want)
	}
}

// TestAPIErrors: every refusal is a 400 with a fault_message that says
// what is wrong, and changes nothing.
func TestAPIErrors(t *testing.T) {
	m := &recordingMachine{}
	c := serve(t, m, false)
	big := `{"kernel_image_path": "` + strings.Repeat("k", MaxBodySize) + `"}`
	cases := []struct{ method, path, body, want string }{
		{"GET", "/nope", "", "invalid request method and/or path: GET /nope"},
		{"DELETE", "/drives/rootfs", "", "invalid request method and/or path: DELETE /drives/rootfs"},
		{"POST", "/actions", `{"action_type": "InstanceStart"}`, "invalid request method and/or path"},
		{"PUT", "/balloon", `{"amount_mib": 1, "deflate_on_oom": true}`, "vmm does not have a balloon device"},
		{"PUT", "/vsock", `{}`, "vmm does not have a vsock device"},
		{"PUT", "/snapshot/create", `{}`, "vmm does not have snapshots"},
		{"PATCH", "/vm", `{"state": "Paused"}`, "vmm does not have pause and resume"},
		{"PUT", "/mmds", `{}`, "microVM metadata service"},
		{"PUT", "/boot-source", "", "has no body"},
		{"PUT", "/boot-source", `{"kernel_image_path": "/k"`, "ends too early"},
		{"PUT", "/boot-source", `{"kernel_image_path": 7}`, "kernel_image_path: want a string, got the number 7"},
		{"PUT", "/boot-source", `{"kernel_image_path": "/k", "initrd": "/i"}`, `unknown key "initrd"`},
		{"PUT", "/boot-source", `{"boot_args": "x"}`, `"kernel_image_path" is required`},
		{"PUT", "/boot-source", big, "larger than the limit of 51200 bytes"},
		{"PUT", "/machine-config", `{"vcpu_count": 2}`, `"mem_size_mib" is required`},
		{"PUT", "/machine-config", `{"vcpu_count": 64, "mem_size_mib": 128}`, "vcpu_count 64 is out of range"},
		{"PATCH", "/machine-config", `{"smt": true}`, "smt true"},
		{"PUT", "/drives/rootfs", `{"drive_id": "other", "path_on_host": "/r", "is_root_device": true}`, "differs from the one in the path"},
		{"PUT", "/drives/rootfs", `{"drive_id": "rootfs", "path_on_host": "/r", "is_root_device": true, "rate_limiter": {"ops": {"size": 1, "refill_time": 1}}}`, "rate_limiter: asks for a rate limiter"},
		{"PUT", "/drives/root-fs", `{"drive_id": "root-fs", "path_on_host": "/r", "is_root_device": true}`, `drive_id "root-fs"`},
		{"PATCH", "/drives/rootfs", `{"drive_id": "rootfs", "path_on_host": "/x"}`, "not allowed while the VM is Not started"},
		{"PUT", "/actions", `{"action_type": "SendCtrlAltDel"}`, "not allowed while the VM is Not started"},
		{"PUT", "/actions", `{"action_type": "FlushMetrics"}`, "no metrics are configured"},
		{"PUT", "/actions", `{"action_type": "Pause"}`, `action_type "Pause"`},
		{"PUT", "/actions", `{"action_type": "InstanceStart", "payload": 1}`, `unknown key "payload"`},
		{"PUT", "/logger", `{"module": "x"}`, "no per-module filter"},
		{"PUT", "/metrics", `{}`, `"metrics_path" is required`},
	}
	for _, k := range cases {
		code, body := c.do(k.method, k.path, k.body)
		if code != 400 {
			t.Errorf("%s %s %.60s: status %d, want 400", k.method, k.path, k.body, code)
			continue
		}
		if msg := faultOf(t, body); !strings.Contains(msg, k.want) {
			t.Errorf("%s %s %.60s: fault %q, want %q", k.method, k.path, k.body, msg, k.want)
		}
	}
	// A start that fails leaves the instance Not started, and can be retried.
	m.startErr = errors.New("kernel /k does not exist")
	c.do("PUT", "/boot-source", `{"kernel_image_path": "/k"}`)
	code, body := c.do("PUT", "/actions", `{"action_type": "InstanceStart"}`)
	if code != 400 || !strings.Contains(faultOf(t, body), "InstanceStart: kernel /k does not exist") {
		t.Errorf("failed start: %d %s", code, body)
	}
	if _, body := c.do("GET", "/", ""); !strings.Contains(body, "Not started") {
		t.Errorf("after a failed start: %s", body)
	}
	if len(m.calls) != 1 || m.calls[0] != "start /k" {
		t.Errorf("refused requests reached the machine: %q", m.calls)
	}
}

// TestAPIAfterStart: pre-boot requests are refused by state; post-boot
// ones check their drive.
func TestAPIAfterStart(t *testing.T) {
	m := &recordingMachine{}
	c := serve(t, m, true)
	cases := []struct{ method, path, body, want string }{
		{"PUT", "/boot-source", `{"kernel_image_path": "/k"}`, "PUT /boot-source is not allowed while the VM is Running"},
		{"PUT", "/machine-config", `{"vcpu_count": 1, "mem_size_mib": 128}`, "while the VM is Running"},
		{"PATCH", "/machine-config", `{"vcpu_count": 1}`, "while the VM is Running"},
		{"PUT", "/drives/a", `{"drive_id": "a", "path_on_host": "/a", "is_root_device": false}`, "while the VM is Running"},
		{"PUT", "/logger", `{"level": "Info"}`, "while the VM is Running"},
		{"PUT", "/metrics", `{"metrics_path": "/m"}`, "while the VM is Running"},
		{"PUT", "/actions", `{"action_type": "InstanceStart"}`, "while the VM is Running"},
		{"PATCH", "/drives/nope", `{"drive_id": "nope", "path_on_host": "/x"}`, `no drive "nope"`},
	}
	for _, k := range cases {
		code, body := c.do(k.method, k.path, k.body)
		if msg := faultOf(t, body); code != 400 || !strings.Contains(msg, k.want) {
			t.Errorf("%s %s: %d %q, want 400 with %q", k.method, k.path, code, msg, k.want)
		}
	}
	if len(m.calls) != 0 {
		t.Errorf("refused requests reached the machine: %q", m.calls)
	}
}

// TestAPISurvivesBadClients: clients that connect and say nothing, send
// half a request, or hang up mid-body do not stop the server, which still
// answers afterwards.
func TestAPISurvivesBadClients(t *testing.T) {
	c := serve(t, &recordingMachine{}, false)
	var conns []net.Conn
	dial := func() net.Conn {
		conn, err := c.c.Transport.(*http.Transport).DialContext(context.Background(), "", "")
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	for i := 0; i < 2*maxConns; i++ {
		conn := dial()
		switch i % 3 {
		case 1:
			fmt.Fprintf(conn, "PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"kernel")
		case 2:
			conn.Write(bytes.Repeat([]byte("GARBAGE"), 100))
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		conn.Close()
	}
	if code, body := c.do("GET", "/", ""); code != 200 || !strings.Contains(body, "Not started") {
		t.Fatalf("after the bad clients: %d %s", code, body)
	}
}
