package vmm

import (
	"bytes"
	"testing"
)

func TestTerminalFilter(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"text and controls", "hello\r\n\tbell\a\bX", "hello\r\n\tbell\a\bX"},
		{"colours and cursor", "\x1b[1;31mred\x1b[0m\x1b[2J\x1b[H", "\x1b[1;31mred\x1b[0m\x1b[2J\x1b[H"},
		{"title (OSC 0) with BEL", "a\x1b]0;pwned\ab", "ab"},
		{"clipboard (OSC 52) with ST", "a\x1b]52;c;ZXZpbA==\x1b\\b", "ab"},
		{"DCS", "a\x1bP+q544e\x1b\\b", "ab"},
		{"APC, PM, SOS", "1\x1b_x\x1b\\2\x1b^y\a3\x1bXz\x1b\\4", "1234"},
		{"two-byte escapes pass", "\x1b7\x1b8\x1bM", "\x1b7\x1b8\x1bM"},
		{"C1 OSC in UTF-8", "a\xc2\x9d0;t\a", "a0;t\a"},
		{"C1 CSI in UTF-8 dropped", "a\xc2\x9b31m", "a31m"},
		{"UTF-8 text with C2", "\xc2\xa9 2026", "\xc2\xa9 2026"},
		{"unterminated string ends", "\x1b]" + string(bytes.Repeat([]byte("x"), maxControlString+1)) + "ok", "ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			f := NewTerminalFilter(&out)
			// One byte at a time as well as whole: the state must carry over.
			for _, chunked := range []bool{false, true} {
				out.Reset()
				f = NewTerminalFilter(&out)
				if chunked {
					for i := 0; i < len(c.in); i++ {
						if n, err := f.Write([]byte{c.in[i]}); n != 1 || err != nil {
							t.Fatalf("Write = %d, %v", n, err)
						}
					}
				} else if n, err := f.Write([]byte(c.in)); n != len(c.in) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				if out.String() != c.want {
					t.Fatalf("chunked=%v: got %q, want %q", chunked, out.String(), c.want)
				}
			}
		})
	}
}

func FuzzTerminalFilter(f *testing.F) {
	f.Add([]byte("\x1b]0;t\a\x1b[31mx\xc2\x9d"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		fl := NewTerminalFilter(&out)
		if n, err := fl.Write(in); n != len(in) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		// Nothing that starts an OSC/DCS/APC/PM/SOS string survives.
		b := out.Bytes()
		for i := 0; i+1 < len(b); i++ {
			if b[i] == 0x1b && bytes.IndexByte([]byte("]PX^_"), b[i+1]) >= 0 {
				// Allowed only as the payload of a CSI sequence (ESC [ ... ] is not a thing: CSI ends at 0x40-0x7e).
				t.Fatalf("control string introducer survived at %d in %q (input %q)", i, b, in)
			}
			if b[i] == 0xc2 && b[i+1] >= 0x80 && b[i+1] <= 0x9f {
				t.Fatalf("C1 control survived in %q (input %q)", b, in)
			}
		}
	})
}
