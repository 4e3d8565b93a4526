package telemetry

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOutputFileAppends(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.log")
	for _, line := range []string{"one\n", "two\n"} {
		o, err := OpenOutput(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		o.Close()
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "one\ntwo\n" || st.Mode().Perm() != 0o600 {
		t.Fatalf("file %q mode %v", b, st.Mode())
	}
}

// TestOutputFIFO: opening a named pipe never waits for a reader; a reader
// gets the lines; a pipe nobody empties makes a write give up instead of
// hanging.
func TestOutputFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := OpenOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	r, err := os.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := o.Write([]byte("line\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, _ := r.Read(buf); string(buf[:n]) != "line\n" {
		t.Fatalf("reader got %q", buf[:n])
	}
	done := make(chan error, 1)
	go func() {
		chunk := bytes.Repeat([]byte("x"), 4096)
		for {
			if _, err := o.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !os.IsTimeout(err) {
			t.Fatalf("write to a full pipe: %v, want a timeout", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a write to a pipe nobody reads never gave up")
	}
}

func TestOutputRefusals(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		link:                          "symbolic link",
		dir:                           "not a file",
		filepath.Join(dir, "no", "x"): "no such file",
	} {
		if _, err := OpenOutput(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
	if o, err := OpenOutput("/dev/null"); err != nil {
		t.Errorf("/dev/null: %v", err)
	} else {
		o.Close()
	}
}
