package vmm

import (
	"io"

	"vmm/devices"
)

// EscapeByte is Ctrl-A: followed by 'x' it quits the VMM (as in QEMU),
// followed by another Ctrl-A it sends one Ctrl-A to the guest.
const EscapeByte = 0x01

// PumpInput copies host input to the guest's UART until r fails or ends.
// With escape set (an interactive terminal), Ctrl-A x calls quit instead of
// reaching the guest.
func PumpInput(r io.Reader, s *devices.Serial, escape bool, quit func()) {
	buf := make([]byte, 256)
	pending := false
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out := buf[:0]
			for _, c := range buf[:n] {
				if !escape {
					out = append(out, c)
					continue
				}
				switch {
				case pending && (c == 'x' || c == 'X'):
					quit()
					return
				case pending:
					pending = false
					if c != EscapeByte {
						out = append(out, EscapeByte)
					}
					out = append(out, c)
				case c == EscapeByte:
					pending = true
				default:
					out = append(out, c)
				}
			}
			if len(out) > 0 {
				s.Enqueue(out)
			}
		}
		if err != nil {
			return
		}
	}
}
