package vmm

import (
	"time"

	"github.com/sirupsen/logrus"
)

// testIRQDelay is how long the test irqfd waits after the guest asks, so
// the guest has time to halt and the interrupt is what wakes it.
const testIRQDelay = time.Millisecond

// testIRQ fires the test device's irqfd on the guest's request. One worker
// does it, whatever the guest does: requests made while one is pending
// coalesce (an irqfd is an edge anyway), so a guest flooding the port costs
// one goroutine, and Close joins the worker before the eventfd closes, so
// no signal can reach a closed or reused descriptor.
type testIRQ struct {
	efd  *eventFD
	req  chan struct{} // capacity 1
	stop chan struct{}
	done chan struct{}
}

func newTestIRQ(efd *eventFD) *testIRQ {
	t := &testIRQ{efd: efd, req: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go t.run()
	return t
}

// request asks for one interrupt; it never blocks.
func (t *testIRQ) request() {
	select {
	case t.req <- struct{}{}:
	default:
	}
}

func (t *testIRQ) run() {
	defer close(t.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-t.req:
		}
		timer.Reset(testIRQDelay)
		select {
		case <-t.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		if err := t.efd.signal(); err != nil {
			logrus.WithError(err).Warn("test irqfd signal failed")
		}
	}
}

// close stops the worker, waits for it, then closes the eventfd.
func (t *testIRQ) close() {
	close(t.stop)
	<-t.done
	t.efd.close()
}
