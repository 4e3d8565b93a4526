package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vmm/internal/testutil"
)

// vmmProcess is vmm running in the background, for tests that talk to it
// while it runs.
type vmmProcess struct {
	cmd            *exec.Cmd
	stdout, stderr testutil.SyncBuffer
	done           chan struct{}
	code           int
}

func startVMM(t *testing.T, args ...string) *vmmProcess {
	t.Helper()
	return startProgram(t, helperBinary(t), append([]string{"-test.run=^TestCheckHelperProcess$", "--"}, args...)...)
}

// startProgram starts bin with args in the background (VMM_CHECK_HELPER
// set, for the test binary standing in for vmm).
func startProgram(t *testing.T, bin string, args ...string) *vmmProcess {
	t.Helper()
	p := &vmmProcess{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for vmm to exit (a hang guard) and returns its status.
func (p *vmmProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(120 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("vmm did not exit\nstdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
	}
	for _, s := range []string{p.stdout.String(), p.stderr.String()} {
		if strings.Contains(s, "panic:") || strings.Contains(s, "goroutine ") {
			t.Fatalf("vmm crashed:\n%s", s)
		}
	}
	return p.code
}

func (p *vmmProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls text until it contains want: a hang guard, never a timing
// assertion.
func waitUntil(t *testing.T, what string, text func() string, want string) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); !strings.Contains(text(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q:\n%s", what, want, text())
		}
	}
}

func fileText(path string) func() string {
	return func() string { b, _ := os.ReadFile(path); return string(b) }
}

// apiClient sends requests to vmm's API socket the way Firecracker's
// getting-started guide does: with curl --unix-socket when curl is
// installed, else with Go's HTTP client over the same socket.
type apiClient struct {
	t    *testing.T
	sock string
	curl string
}

func newAPIClient(t *testing.T, sock string) *apiClient {
	c := &apiClient{t: t, sock: sock}
	c.curl, _ = exec.LookPath("curl")
	return c
}

// waitReady waits until the socket answers.
func (c *apiClient) waitReady(p *vmmProcess) {
	c.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if conn, err := net.Dial("unix", c.sock); err == nil {
			conn.Close()
			return
		}
		select {
		case <-p.done:
			c.t.Fatalf("vmm exited %d before serving the API:\n%s", p.code, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the API socket %s never answered:\n%s", c.sock, p.stderr.String())
		}
	}
}

// do sends one request and returns the status code and body.
func (c *apiClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	if c.curl != "" {
		args := []string{"-s", "--max-time", "60", "--unix-socket", c.sock, "-X", method, "http://localhost" + path,
			"-H", "Accept: application/json", "-H", "Content-Type: application/json", "-w", "\n%{http_code}"}
		if body != "" {
			args = append(args, "-d", body)
		}
		out, err := exec.Command(c.curl, args...).Output()
		if err != nil {
			c.t.Fatalf("curl %s %s: %v", method, path, err)
		}
		s := string(out)
		i := strings.LastIndexByte(s, '\n')
		code, _ := strconv.Atoi(s[i+1:])
		return code, s[:i]
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", c.sock)
	}}}
	req, _ := http.NewRequest(method, "http://localhost"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ok sends a request that must succeed with 204 and no body.
func (c *apiClient) ok(method, path, body string) {
	c.t.Helper()
	if code, resp := c.do(method, path, body); code != http.StatusNoContent || resp != "" {
		c.t.Fatalf("%s %s: %d %s, want 204", method, path, code, resp)
	}
}

// refused sends a request that must fail with 400 and a fault_message
// containing want.
func (c *apiClient) refused(method, path, body, want string) {
	c.t.Helper()
	code, resp := c.do(method, path, body)
	var f struct {
		FaultMessage string `json:"fault_message"`
	}
	if code != http.StatusBadRequest || json.Unmarshal([]byte(resp), &f) != nil || !strings.Contains(f.FaultMessage, want) {
		c.t.Fatalf("%s %s %s: %d %s, want 400 with a fault_message containing %q", method, path, body, code, resp, want)
	}
}

// state is GET /'s state.
func (c *apiClient) state() string {
	c.t.Helper()
	code, body := c.do("GET", "/", "")
	var info struct{ State string }
	if code != 200 || json.Unmarshal([]byte(body), &info) != nil {
		c.t.Fatalf("GET /: %d %s", code, body)
	}
	return info.State
}

// readResult decodes a --result-json file.
func readResult(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no result file: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("result %s: %v", b, err)
	}
	return m
}

// writeImage writes an image of size bytes, each byte from fill.
func writeImage(t *testing.T, name string, size int, fill func(int) byte) string {
	t.Helper()
	b := make([]byte, size)
	for i := range b {
		b[i] = fill(i)
	}
	return writeFile(t, name, b)
}
