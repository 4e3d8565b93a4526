package vmm

import (
	"strings"
	"testing"
)

// TestSendCtrlAltDel: the tiny kernel's ctrlaltdel case waits for the
// keyboard interrupt and checks the bytes: Ctrl, Alt, Del pressed and
// released, in scancode set 2.
func TestSendCtrlAltDel(t *testing.T) {
	r := startTiny(t, "test=ctrlaltdel", 1, nil)
	r.waitFor(t, "ctrlaltdel: waiting")
	if err := r.vm.SendCtrlAltDel(); err != nil {
		t.Fatal(err)
	}
	res := r.result(t)
	if out := r.out.String(); res.Status != 0 || !strings.Contains(out, "PASS ctrlaltdel") {
		t.Fatalf("result %+v\n%s", res, out)
	}
}
