package vmm

import (
	"errors"
	"testing"
)

func TestResultReasonFromError(t *testing.T) {
	cases := []struct {
		in   Result
		want Reason
	}{
		{Result{Status: 0, Reason: ReasonReset}, ReasonReset},
		{Result{Status: 1, Err: &GuestCrash{Summary: "x"}}, ReasonCrash},
		{Result{Status: 1, Err: errors.New("console failed")}, ReasonError},
		{Result{Status: 124, Reason: ReasonTimeout, Err: errors.New("late")}, ReasonTimeout},
		{Result{Status: 0}, ""},
	}
	for _, c := range cases {
		if got := c.in.withReason().Reason; got != c.want {
			t.Errorf("%+v: reason %q, want %q", c.in, got, c.want)
		}
	}
}
