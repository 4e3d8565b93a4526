package vmm

import "testing"

func TestTestExitStatusKeepsVMMStatusesApart(t *testing.T) {
	for _, tc := range []struct {
		value uint32
		want  int
	}{{0, 0}, {1, 3}, {2, 5}, {127, 255}, {128, 255}, {0xffffffff, 255}} {
		if got := TestExitStatus(tc.value); got != tc.want {
			t.Errorf("TestExitStatus(%d) = %d, want %d", tc.value, got, tc.want)
		}
	}
	seen := map[int]uint32{}
	for v := uint32(0); v <= 127; v++ {
		s := TestExitStatus(v)
		if s == 1 || s == 2 {
			t.Fatalf("guest value %d maps to %d, a status the VMM keeps for its own failures", v, s)
		}
		if o, dup := seen[s]; dup {
			t.Fatalf("guest values %d and %d both map to %d", o, v, s)
		}
		seen[s] = v
		if back, ok := GuestValueFromStatus(s); !ok || back != v {
			t.Fatalf("GuestValueFromStatus(%d) = %d, %v; want %d", s, back, ok, v)
		}
	}
	for _, s := range []int{1, 2, 4, 256, -1} {
		if _, ok := GuestValueFromStatus(s); ok {
			t.Errorf("status %d read back as a guest value", s)
		}
	}
}
