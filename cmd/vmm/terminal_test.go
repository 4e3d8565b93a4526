package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vmm/internal/testutil"
)

// needScript returns util-linux's script(1), which runs a command on a
// fresh pseudo-terminal: the way to test raw mode without a real tty.
func needScript(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("script")
	if err != nil {
		testutil.Missing(t, "script(1) from util-linux is needed to give vmm a terminal")
	}
	return p
}

// TestRunRestoresTerminal runs vmm on a pseudo-terminal, checks it puts the
// terminal in raw mode while the guest runs, and that after SIGTERM the
// terminal settings are exactly what they were.
func TestRunRestoresTerminal(t *testing.T) {
	needKVM(t)
	script := needScript(t)
	bin := helperBinary(t)
	dir := t.TempDir()
	kernel := writeFile(t, "halt.elf", pvhELF([]byte{0xfa, 0xf4, 0xeb, 0xfd}, 0))
	sh := `stty -g > before
VMM_CHECK_HELPER=1 "$BIN" -test.run='^TestCheckHelperProcess$' -- run --kernel "$KERNEL" 2>err </dev/tty &
pid=$!
# Wait (up to 30 s) for vmm to put the terminal in raw mode.
for i in $(seq 300); do
  stty -g > during
  [ "$(cat during)" != "$(cat before)" ] && break
  sleep 0.1
done
kill -TERM $pid
wait $pid
echo $? > rc
stty -g > after
`
	if err := os.WriteFile(filepath.Join(dir, "t.sh"), []byte(sh), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "-qec", "sh t.sh", "/dev/null")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BIN="+bin, "KERNEL="+kernel)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	before, during, after, rc := read("before"), read("during"), read("after"), read("rc")
	if rc != "0" {
		t.Errorf("vmm exited %s after SIGTERM, want 0; stderr: %s", rc, read("err"))
	}
	if during == before {
		t.Errorf("terminal was not switched to raw mode while the guest ran")
	}
	if after != before {
		t.Errorf("terminal not restored:\nbefore %s\nafter  %s", before, after)
	}
}

// TestRunEscapeQuits types Ctrl-A x at the guest console and expects vmm to
// quit by itself with status 0.
func TestRunEscapeQuits(t *testing.T) {
	needKVM(t)
	script := needScript(t)
	bin := helperBinary(t)
	kernel := writeFile(t, "halt.elf", pvhELF([]byte{0xfa, 0xf4, 0xeb, 0xfd}, 0))
	cmd := exec.Command(script, "-qec", `VMM_CHECK_HELPER=1 "$BIN" -test.run='^TestCheckHelperProcess$' -- run --kernel "$KERNEL" --log-level info; echo "rc=$?"`, "/dev/null")
	cmd.Env = append(os.Environ(), "BIN="+bin, "KERNEL="+kernel)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Type only once the guest runs, so the console is in raw mode and read.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "guest loaded") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := stdin.Write([]byte{0x01, 'x'}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("Ctrl-A x did not stop vmm; output:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "rc=0") {
		t.Fatalf("vmm did not exit 0 after Ctrl-A x; output:\n%s", out.String())
	}
}
