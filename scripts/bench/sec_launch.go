package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// launchSection: N VMs of the exit-at-once guest started together; the time
// until the last has exited, and the highest total RSS seen meanwhile.
func launchSection(ns []int) *section {
	s := &section{name: "launch", cols: tinyColumns, limit: floorLimit, prepare: tinyPrepare}
	for _, n := range ns {
		s.rows = append(s.rows,
			row{id: fmt.Sprintf("launch%d", n), label: fmt.Sprintf("%d VMs started at once, until all exited (ms)", n),
				short: fmt.Sprintf("%d at once", n), unit: "ms", goals: []goal{atMost(colQEMU, 0.25)}},
			row{id: fmt.Sprintf("launch%drss", n), label: fmt.Sprintf("%d VMs started at once, peak total RSS (MiB)", n),
				short: fmt.Sprintf("%d at once RSS", n), unit: "MiB"})
	}
	s.measure = func(b *bench, c column) (sample, error) {
		v := map[string]float64{}
		for _, n := range ns {
			took, peak, err := b.launch(c, n)
			if err != nil {
				return sample{}, err
			}
			v[fmt.Sprintf("launch%d", n)] = ms(took)
			v[fmt.Sprintf("launch%drss", n)] = peak / (1 << 20)
		}
		return sample{values: v}, nil
	}
	return s
}

// launch starts n test=none guests under c as fast as it can and waits for
// all of them, sampling their summed RSS every few milliseconds.
func (b *bench) launch(c column, n int) (time.Duration, float64, error) {
	unlock, err := b.lock(benchLock)
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	var (
		mu    sync.Mutex
		procs []*proc
		peak  float64
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			mu.Lock()
			live := append([]*proc(nil), procs...)
			mu.Unlock()
			var sum float64
			for _, p := range live {
				sum += residentBytes(p.cmd.Process.Pid)
			}
			peak = max(peak, sum)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	var startErr error
	for i := 0; i < n; i++ {
		p, err := b.startTiny(c, "test=none", guestOpts{})
		if err != nil {
			startErr = err
			break
		}
		mu.Lock()
		procs = append(procs, p)
		mu.Unlock()
	}
	var end time.Time
	var firstErr error
	for _, p := range procs {
		if err := p.wait(2 * time.Minute); err != nil && firstErr == nil {
			firstErr = err
		}
		if p.end.After(end) {
			end = p.end
		}
		if err := checkPass(p, c, "tiny: none"); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	close(stop)
	<-done
	switch {
	case startErr != nil:
		return 0, 0, startErr
	case firstErr != nil:
		return 0, 0, firstErr
	}
	return end.Sub(start), peak, nil
}

// residentBytes is a process's RSS from /proc/PID/statm, 0 once it is gone.
func residentBytes(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		return 0
	}
	return pages * float64(os.Getpagesize())
}
