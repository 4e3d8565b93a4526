package vmm

import "io"

// maxControlString bounds how long the filter swallows an unterminated
// control string before giving up on it and passing text through again.
const maxControlString = 4096

// TerminalFilter passes guest console output to a terminal with the escape
// sequences that can do harm removed. A hostile guest can otherwise set the
// window title, write the user's clipboard (OSC 52), or feed device-control
// strings to the terminal. What passes: text, the C0 controls a console
// uses (CR, LF, TAB, BS, BEL...), CSI sequences (colours, cursor movement,
// clearing: what a shell and a pager need) and two-byte ESC sequences.
// What is dropped: OSC, DCS, SOS, PM and APC strings (ESC ] / P / X / ^ / _
// up to BEL or ESC \) and the C1 controls U+0080–U+009F in their UTF-8 form
// (0xC2 0x80–0x9F), which some terminals treat as those same introducers.
// Output to a file or pipe is not filtered: there it is data.
type TerminalFilter struct {
	w     io.Writer
	state filterState
	n     int    // bytes swallowed in the current control string
	out   []byte // reused output buffer
}

type filterState uint8

const (
	stText      filterState = iota
	stEsc                   // after ESC
	stCSI                   // inside ESC [ ... until a final byte
	stString                // inside a control string, swallowing
	stStringEsc             // ESC seen inside a control string (ESC \ ends it)
	stC2                    // after 0xC2, deciding on a C1 control
)

// NewTerminalFilter returns a filter writing to w.
func NewTerminalFilter(w io.Writer) *TerminalFilter { return &TerminalFilter{w: w} }

// Write filters p. It reports len(p) on success: dropped bytes count as
// written. Not safe for concurrent use (one console pump calls it).
func (f *TerminalFilter) Write(p []byte) (int, error) {
	out := f.out[:0]
	for _, c := range p {
		switch f.state {
		case stText:
			out = f.text(out, c)
		case stEsc:
			switch c {
			case '[':
				f.state = stCSI
				out = append(out, 0x1b, c)
			case ']', 'P', 'X', '^', '_':
				f.state, f.n = stString, 0
			default:
				if c >= 0x20 && c <= 0x7e {
					f.state = stText
					out = append(out, 0x1b, c)
				} else {
					// ESC then a control or a non-ASCII byte introduces
					// nothing: drop the ESC, the byte stands on its own.
					out = f.text(out, c)
				}
			}
		case stCSI:
			switch {
			case c >= 0x40 && c <= 0x7e: // final byte
				out = append(out, c)
				f.state = stText
			case c >= 0x20 && c <= 0x3f: // parameter and intermediate bytes
				out = append(out, c)
			default:
				// Not part of a CSI sequence: the terminal abandons it; the
				// byte is text (or the start of something else) again.
				out = f.text(out, c)
			}
		case stString, stStringEsc:
			f.n++
			switch {
			case c == 0x07 || (f.state == stStringEsc && c == '\\'):
				f.state = stText
			case c == 0x1b:
				f.state = stStringEsc
			case f.n > maxControlString:
				f.state = stText // unterminated: stop swallowing
			default:
				f.state = stString
			}
		case stC2:
			switch {
			case c >= 0x80 && c <= 0x9f:
				f.state = stText // a C1 control: drop it
			case c >= 0xa0 && c <= 0xbf:
				f.state = stText // U+00A0–U+00BF: ordinary text
				out = append(out, 0xc2, c)
			default:
				// A lone 0xC2 is not UTF-8: drop it, so that it can never
				// pair with a later byte into a C1 control.
				out = f.text(out, c)
			}
		}
	}
	f.out = out
	if len(out) == 0 {
		return len(p), nil
	}
	if _, err := f.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// text handles byte c in the text state: ESC and 0xC2 may start something
// to filter; anything else is output.
func (f *TerminalFilter) text(out []byte, c byte) []byte {
	switch c {
	case 0x1b:
		f.state = stEsc
	case 0xc2:
		f.state = stC2
	default:
		f.state = stText
		out = append(out, c)
	}
	return out
}
