package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestConcurrentWritesAndReads(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				b.Write([]byte("ab"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	b.WriteString("!")
	if s := b.String(); len(s) != 8001 || strings.Count(s, "ab") != 4000 || !strings.HasSuffix(s, "!") {
		t.Fatalf("%d bytes", len(s))
	}
}
