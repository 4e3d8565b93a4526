package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vmm/internal/testutil"
)

// injectEnv makes the helper process (this test binary run as vmm) inject a
// fault the tests cannot produce from outside.
const injectEnv = "VMM_TEST_INJECT"

type panickingReader struct{}

func (panickingReader) Read([]byte) (int, error) { panic("injected fault in the console input pump") }

func init() {
	if os.Getenv(injectEnv) == "console-input-panic" {
		consoleInput = func(*stopReader) io.Reader { return panickingReader{} }
	}
}

// floodGuest is 32-bit PVH code that writes 'x' to the UART forever.
var floodGuest = []byte{
	0x66, 0xba, 0xf8, 0x03, // mov dx, 0x3f8
	0xb0, 'x', // mov al, 'x'
	0xee,       // out dx, al
	0xeb, 0xfd, // jmp .-3 (back to out)
}

// TestConsoleFileSafety: a symlink (dangling or not) and non-regular files
// are refused; a start that fails leaves an existing file's contents and
// mode as they were; a new file is created 0600; a good start truncates.
func TestConsoleFileSafety(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	dir := t.TempDir()
	tiny := tinyKernelPath(t)
	garbage := writeFile(t, "garbage", bytes.Repeat([]byte{0x5a}, 4096))

	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.log")
	target := filepath.Join(dir, "would-be-created")
	if err := os.Symlink(target, dangling); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		path, want string
	}{
		"symlink":          {link, "is a symbolic link"},
		"dangling symlink": {dangling, "is a symbolic link"},
		"fifo":             {fifo, "not a regular file"},
		"directory":        {dir, "not a regular file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := runVMM(t, bin, nil, "run", "--kernel", tiny, "--cmdline", "test=serial", "--test-exit", "--console", "file:"+c.path)
			if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want 1 and one line saying %q", code, stderr, c.want)
			}
		})
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the symlink's target was changed: %q", b)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("the dangling symlink's target was created (%v)", err)
	}

	existing := filepath.Join(dir, "existing.log")
	if err := os.WriteFile(existing, []byte("old log"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(existing, 0o640); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runVMM(t, bin, nil, "run", "--kernel", garbage, "--console", "file:"+existing)
	if code != 1 || !strings.Contains(stderr, "not a kernel") {
		t.Fatalf("garbage kernel: exit %d, %q", code, stderr)
	}
	if st, err := os.Stat(existing); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("failed start changed the console file's mode: %v %v", st.Mode(), err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "old log" {
		t.Errorf("failed start changed the console file: %q", b)
	}

	fresh := filepath.Join(dir, "fresh.log")
	if _, _, code := runVMM(t, bin, nil, "run", "--kernel", tiny, "--cmdline", "test=serial", "--test-exit", "--console", "file:"+fresh); code != 0 {
		t.Fatalf("good run exit %d", code)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("new console file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if _, _, code := runVMM(t, bin, nil, "run", "--kernel", tiny, "--cmdline", "test=serial", "--test-exit", "--console", "file:"+existing); code != 0 {
		t.Fatalf("good run exit %d", code)
	}
	if b, _ := os.ReadFile(existing); strings.Contains(string(b), "old log") || !strings.Contains(string(b), "PASS serial") {
		t.Errorf("a successful run must truncate an existing console file: %q", b)
	}
}

// TestConsoleFileLimit: a guest that prints forever fills a file console
// only up to --console-limit, plus one note.
func TestConsoleFileLimit(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	kernel := writeFile(t, "flood.elf", pvhELF(floodGuest, 0))
	p := filepath.Join(t.TempDir(), "console.log")
	cmd := exec.Command(bin, "-test.run=^TestCheckHelperProcess$", "--", "run", "--kernel", kernel, "--console", "file:"+p, "--console-limit", "64K")
	cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("[vmm: the console reached its limit")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the guest keeps printing meanwhile
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	body, note, ok := bytes.Cut(b, []byte("\n[vmm: the console reached its limit of 64K"))
	if !ok || len(body) != 64<<10 || bytes.Count(b, []byte("[vmm:")) != 1 || len(note) > 100 {
		t.Fatalf("console file is %d bytes (note found: %v): want exactly 64 KiB of output and one note", len(b), ok)
	}
}

// TestBadInputFilesFailFast: a FIFO, /dev/zero and a sparse file bigger
// than guest RAM, as --kernel or --initrd, end in one line and exit 1
// without reading them (before: a FIFO blocked forever, a 3 GiB sparse
// file read whole died with "fatal error: out of memory").
func TestBadInputFilesFailFast(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	dir := t.TempDir()
	tiny := tinyKernelPath(t)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(3 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"fifo kernel", []string{"--kernel", fifo}, "named pipe"},
		{"fifo initrd", []string{"--kernel", tiny, "--initrd", fifo}, "named pipe"},
		{"/dev/zero kernel", []string{"--kernel", "/dev/zero"}, "character device"},
		{"sparse kernel", []string{"--kernel", sparse, "--mem", "1G"}, "more than the guest's 1G of RAM"},
		{"sparse initrd", []string{"--kernel", tiny, "--initrd", sparse, "--mem", "16M"}, "more than the guest's 16M of RAM"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"-test.run=^TestCheckHelperProcess$", "--", "run"}, c.args...)...)
			cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			_ = cmd.Start()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(time.Minute): // hang guard
				_ = cmd.Process.Kill()
				t.Fatalf("vmm %v still running after a minute", c.args)
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if s := strings.TrimSpace(stderr.String()); strings.Contains(s, "\n") || !strings.Contains(s, c.want) {
				t.Errorf("stderr %q, want one line saying %q", s, c.want)
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 100<<10 {
				t.Errorf("peak RSS %d KiB, want under 100 MiB", ru.Maxrss)
			}
		})
	}
}

// TestSecondSignalForcesExit: a run stuck after the first SIGTERM (here:
// stdout is a pipe nobody reads, so the final console flush cannot finish)
// ends at the second SIGTERM with status 1 (before, only SIGKILL did).
func TestSecondSignalForcesExit(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	kernel := writeFile(t, "flood.elf", pvhELF(floodGuest, 0))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The smallest pipe (one page), so the guest fills it at once.
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(t.TempDir(), "result.json")
	cmd := exec.Command(bin, "-test.run=^TestCheckHelperProcess$", "--", "run", "--kernel", kernel, "--log-level", "info",
		"--result-json", result)
	cmd.Env = append(os.Environ(), "VMM_CHECK_HELPER=1")
	cmd.Stdout = w // never read
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitFor(t, &stderr, "guest loaded")
	time.Sleep(500 * time.Millisecond) // the pipe and the backlog fill up
	_ = cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, &stderr, "stopping on signal")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		t.Fatalf("vmm exited after one signal although its console could not drain; stderr:\n%s", stderr.String())
	case <-time.After(time.Second):
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(time.Minute): // hang guard
		_ = cmd.Process.Kill()
		t.Fatalf("a second SIGTERM did not end vmm; stderr:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "vmm: second terminated: exiting without waiting") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	// --result-json is written on this exit path too.
	if res := readResult(t, result); res["status"] != 1.0 || res["reason"] != "signal" || res["signal"] != "terminated" {
		t.Errorf("result %v", res)
	}
}

// waitFor waits (up to a minute, a hang guard) until out contains s.
func waitFor(t *testing.T, out *testutil.SyncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within a minute; output:\n%s", s, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTerminalSurvivesBrokenPipeAndPanic runs vmm on a pseudo-terminal in
// two ways that used to leave it raw: with stdout piped into `head -c 100`
// (SIGPIPE killed vmm, status 141), and with a panic injected into the
// console input goroutine. Each must exit 1 with one line and restore the
// terminal exactly.
func TestTerminalSurvivesBrokenPipeAndPanic(t *testing.T) {
	needKVM(t)
	script := needScript(t)
	bin := helperBinary(t)
	flood := writeFile(t, "flood.elf", pvhELF(floodGuest, 0))
	halt := writeFile(t, "halt.elf", pvhELF([]byte{0xfa, 0xf4, 0xeb, 0xfd}, 0))
	for _, c := range []struct {
		name, pipeline, want string
	}{
		{"head closes stdout", `"$BIN" -test.run='^TestCheckHelperProcess$' -- run --kernel "$FLOOD" 2>err </dev/tty | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}" > rc`,
			"console output failed"},
		{"panic in console input", `VMM_TEST_INJECT=console-input-panic "$BIN" -test.run='^TestCheckHelperProcess$' -- run --kernel "$HALT" 2>err </dev/tty >/dev/null; echo $? > rc`,
			"internal error in console input: injected fault"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sh := "stty -g > before\nexport VMM_CHECK_HELPER=1\n" + c.pipeline + "\nstty -g > after\n"
			if err := os.WriteFile(filepath.Join(dir, "t.sh"), []byte(sh), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(script, "-qec", "bash t.sh", "/dev/null")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "BIN="+bin, "FLOOD="+flood, "HALT="+halt)
			done := make(chan []byte, 1)
			go func() { out, _ := cmd.CombinedOutput(); done <- out }()
			var out []byte
			select {
			case out = <-done:
			case <-time.After(2 * time.Minute): // hang guard
				_ = cmd.Process.Kill()
				t.Fatal("vmm did not end")
			}
			read := func(name string) string {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("%s: %v (script output %q)", name, err, out)
				}
				return strings.TrimSpace(string(b))
			}
			if rc, errText := read("rc"), read("err"); rc != "1" || strings.Contains(errText, "goroutine ") || !strings.Contains(errText, c.want) {
				t.Errorf("vmm exited %s with stderr %q; want 1 and one line saying %q", rc, errText, c.want)
			}
			if before, after := read("before"), read("after"); before != after {
				t.Errorf("terminal not restored:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestStopReaderEndsOnStop: the console input reader returns EOF when the
// VM stops, so its goroutine ends (before, it sat in read(2) for good).
func TestStopReaderEndsOnStop(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	sr, err := newStopReader(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer sr.close()
	w.Write([]byte("ab"))
	buf := make([]byte, 8)
	if n, err := sr.Read(buf); n != 2 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	got := make(chan error, 1)
	go func() { _, err := sr.Read(buf); got <- err }()
	time.Sleep(50 * time.Millisecond)
	sr.stop()
	select {
	case err := <-got:
		if err != io.EOF {
			t.Fatalf("Read after stop = %v, want io.EOF", err)
		}
	case <-time.After(time.Minute): // hang guard
		t.Fatal("Read did not return after stop")
	}
}

// TestErrorMessagesSayThingsOnce: the device path appears once in the
// open error (it used to read "open X: kvm: open X: ..."), and a crash
// prints its one-line summary before the register dump.
func TestErrorMessagesSayThingsOnce(t *testing.T) {
	needKVM(t)
	bin := helperBinary(t)
	_, stderr, code := runVMM(t, bin, nil, "run", "--device", "/nonexistent/kvm")
	if code != 1 || strings.Count(stderr, "/nonexistent/kvm") != 1 {
		t.Errorf("exit %d, stderr %q: want the path named once", code, stderr)
	}
	// lidt [zero-limit descriptor at 0x100010]; ud2: a triple fault.
	tf := writeFile(t, "tf.elf", pvhELF([]byte{0x0f, 0x01, 0x1d, 0x10, 0x00, 0x10, 0x00, 0x0f, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0))
	_, stderr, code = runVMM(t, bin, nil, "run", "--kernel", tf)
	first, _, _ := strings.Cut(stderr, "\n")
	if code != 1 || !strings.HasPrefix(first, "vmm: vCPU 0: guest triple-faulted") || !strings.Contains(stderr, "RIP=") {
		t.Errorf("exit %d; first line %q, want the summary before the dump; stderr:\n%s", code, first, stderr)
	}
}
