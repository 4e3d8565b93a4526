package vmm

import (
	"bytes"
	"strings"
	"testing"
)

func TestAMLPkgLength(t *testing.T) {
	for _, c := range []struct {
		n    int // bytes after the PkgLength
		want []byte
	}{
		{0, []byte{0x01}},
		{62, []byte{0x3f}},                          // 63 in total: the largest one-byte length
		{63, []byte{0x41, 0x04}},                    // 65 = 0x041
		{4093, []byte{0x4f, 0xff}},                  // 4095: the largest two-byte length
		{4094, []byte{0x81, 0x00, 0x01}},            // 4097 = 0x01001
		{1<<20 - 4, []byte{0x8f, 0xff, 0xff}},       // 0xfffff: the largest three-byte length
		{1<<20 - 3, []byte{0xc1, 0x00, 0x00, 0x01}}, // 0x100001
		{1<<28 - 5, []byte{0xcf, 0xff, 0xff, 0xff}}, // 2^28-1: the largest of all
	} {
		got, err := amlPkgLength(c.n)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("amlPkgLength(%d) = % x, %v; want % x", c.n, got, err, c.want)
		}
	}
	for _, n := range []int{1<<28 - 4, 1 << 30, -1} {
		if got, err := amlPkgLength(n); err == nil {
			t.Errorf("amlPkgLength(%d) = % x, want an error", n, got)
		}
	}
}

// TestAMLPkgLengthRoundTrip decodes every encoding of the lengths around
// each boundary the way the grammar reads it.
func TestAMLPkgLengthRoundTrip(t *testing.T) {
	for _, edge := range []int{0, 63, 4096, 1 << 20, 1<<28 - 4} {
		for n := max(0, edge-5); n < edge+5 && n+4 < 1<<28; n++ {
			b, err := amlPkgLength(n)
			if err != nil {
				t.Fatalf("amlPkgLength(%d): %v", n, err)
			}
			follow := int(b[0] >> 6)
			if len(b) != 1+follow {
				t.Fatalf("amlPkgLength(%d) = % x: lead byte says %d bytes follow", n, b, follow)
			}
			total := int(b[0] & 0x3f)
			if follow > 0 {
				if b[0]&0x30 != 0 {
					t.Fatalf("amlPkgLength(%d) = % x: bits 5-4 of the lead byte must be zero", n, b)
				}
				total = int(b[0] & 0xf)
				for i := 1; i <= follow; i++ {
					total |= int(b[i]) << (4 + 8*(i-1))
				}
			}
			if total != n+len(b) {
				t.Fatalf("amlPkgLength(%d) = % x decodes to %d, want %d", n, b, total, n+len(b))
			}
			// The largest total a PkgLength of 1, 2, 3 bytes holds.
			if l := len(b); l > 1 && n+l-1 <= []int{63, 1<<12 - 1, 1<<20 - 1}[l-2] {
				t.Fatalf("amlPkgLength(%d) = % x: %d bytes would do", n, b, l-1)
			}
		}
	}
}

func TestAMLInteger(t *testing.T) {
	for _, c := range []struct {
		v    uint64
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{2, []byte{0x0a, 0x02}},
		{0xff, []byte{0x0a, 0xff}},
		{0x100, []byte{0x0b, 0x00, 0x01}},
		{0xffff, []byte{0x0b, 0xff, 0xff}},
		{0x10000, []byte{0x0c, 0x00, 0x00, 0x01, 0x00}},
		{0xd0000000, []byte{0x0c, 0x00, 0x00, 0x00, 0xd0}},
		{0xffffffff, []byte{0x0c, 0xff, 0xff, 0xff, 0xff}},
		{0x100000000, []byte{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}},
		{^uint64(0), []byte{0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		got, err := amlInteger(c.v).encode()
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("amlInteger(%#x) = % x, %v; want % x", c.v, got, err, c.want)
		}
	}
}

func TestAMLNameString(t *testing.T) {
	for _, c := range []struct {
		path string
		want string
	}{
		{"_HID", "_HID"},
		{"_SB", "_SB_"},
		{"A", "A___"},
		{`\_SB`, `\_SB_`},
		{`\_SB.VR00`, "\\\x2e_SB_VR00"},
		{"A.B2.C_D", "\x2f\x03A___B2__C_D_"},
		{"^FOO", "^FOO_"},
		{"^^X.Y", "^^\x2eX___Y___"},
		{`\`, "\\\x00"},
		{"", "\x00"},
	} {
		got, err := amlNameString(c.path).encode()
		if err != nil || string(got) != c.want {
			t.Errorf("amlNameString(%q) = %q, %v; want %q", c.path, got, err, c.want)
		}
	}
	for _, bad := range []string{"1ABC", "abcd", "TOOLONG", "A..B", "A.", `\^A`, "A-B", "_SB.VR0é"} {
		if got, err := amlNameString(bad).encode(); err == nil {
			t.Errorf("amlNameString(%q) = %q, want an error", bad, got)
		}
	}
	if _, err := amlNameString(strings.Repeat("A.", 255) + "A").encode(); err == nil {
		t.Error("a 256-segment name path was accepted")
	}
}

func TestAMLStringAndEISAID(t *testing.T) {
	got, err := amlString("LNRO0005").encode()
	if want := "\x0dLNRO0005\x00"; err != nil || string(got) != want {
		t.Errorf("amlString = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"a\x00b", "caf\xc3\xa9"} {
		if _, err := amlString(bad).encode(); err == nil {
			t.Errorf("amlString(%q) accepted", bad)
		}
	}
	for _, c := range []struct {
		id   string
		want []byte
	}{
		// EisaId("PNP0501") is the integer 0x0105D041 (ACPI 6.5 §19.6.35's
		// compression); PNP0A03, the PCI host bridge, 0x030AD041.
		{"PNP0501", []byte{0x0c, 0x41, 0xd0, 0x05, 0x01}},
		{"PNP0A03", []byte{0x0c, 0x41, 0xd0, 0x0a, 0x03}},
		{"ABC1234", []byte{0x0c, 0x04, 0x43, 0x12, 0x34}},
	} {
		got, err := amlEISAID(c.id).encode()
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("amlEISAID(%q) = % x, %v; want % x", c.id, got, err, c.want)
		}
	}
	for _, bad := range []string{"pnp0501", "PNP050G", "PNP05", "PNP05011", "P1P0501", "PNP0a03"} {
		if _, err := amlEISAID(bad).encode(); err == nil {
			t.Errorf("amlEISAID(%q) accepted", bad)
		}
	}
}

func TestAMLObjects(t *testing.T) {
	big := bytes.Repeat([]byte{0xaa}, 100)
	for _, c := range []struct {
		name string
		term amlTerm
		want []byte
	}{
		{"Name(_UID, 0)", amlName("_UID", amlInteger(0)), []byte{0x08, '_', 'U', 'I', 'D', 0x00}},
		{`Scope(\_SB) {}`, amlScope(`\_SB`), []byte{0x10, 0x06, '\\', '_', 'S', 'B', '_'}},
		{"Device(COM1) {}", amlDevice("COM1"), []byte{0x5b, 0x82, 0x05, 'C', 'O', 'M', '1'}},
		{"Device(X) { Name(_UID, 1) }", amlDevice("X", amlName("_UID", amlInteger(1))),
			[]byte{0x5b, 0x82, 0x0b, 'X', '_', '_', '_', 0x08, '_', 'U', 'I', 'D', 0x01}},
		{"Buffer() {1, 2, 3}", amlBuffer([]byte{1, 2, 3}), []byte{0x11, 0x06, 0x0a, 0x03, 1, 2, 3}},
		{"Buffer() {}", amlBuffer(nil), []byte{0x11, 0x02, 0x00}},
		// 100 data bytes and a two-byte size after a two-byte PkgLength:
		// 104 = 0x068.
		{"Buffer(100)", amlBuffer(big), append([]byte{0x11, 0x48, 0x06, 0x0a, 100}, big...)},
		{`Package() {1, "A"}`, amlPackage(amlInteger(1), amlString("A")), []byte{0x12, 0x06, 0x02, 0x01, 0x0d, 'A', 0x00}},
		{"Package() {}", amlPackage(), []byte{0x12, 0x02, 0x00}},
	} {
		got, err := c.term.encode()
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s = % x, %v; want % x", c.name, got, err, c.want)
		}
	}
	if _, err := amlPackage(make([]amlTerm, 256)...).encode(); err == nil {
		t.Error("a package of 256 elements was accepted")
	}
}

// TestAMLErrorsPropagate: an error deep in a tree reaches the top, whatever
// surrounds it, and says what was wrong.
func TestAMLErrorsPropagate(t *testing.T) {
	for name, term := range map[string]amlTerm{
		"device name":      amlScope(`\_SB`, amlDevice("bad")),
		"scope name":       amlScope("9", amlDevice("GOOD")),
		"name value":       amlScope(`\_SB`, amlDevice("GOOD", amlName("_HID", amlEISAID("nope")))),
		"resource":         amlDevice("GOOD", amlName("_CRS", amlResourceTemplate(resIRQ(16)))),
		"interrupts":       amlDevice("GOOD", amlName("_CRS", amlResourceTemplate(resInterrupt(irqConsumer)))),
		"package element":  amlPackage(amlString("\xff")),
		"buffer in a name": amlName("1X", amlBuffer(nil)),
	} {
		b, err := term.encode()
		if err == nil || !strings.HasPrefix(err.Error(), "AML") {
			t.Errorf("%s: got % x, %v; want an AML error", name, b, err)
		}
	}
}

func TestAMLResources(t *testing.T) {
	for _, c := range []struct {
		name string
		res  amlResource
		want []byte
	}{
		{"Memory32Fixed(ReadWrite, 0xD0000000, 0x1000)", resMemory32(true, 0xd0000000, 0x1000),
			[]byte{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00}},
		{"Memory32Fixed(ReadOnly, 0x12345678, 0x9ABCDEF0)", resMemory32(false, 0x12345678, 0x9abcdef0),
			[]byte{0x86, 0x09, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12, 0xf0, 0xde, 0xbc, 0x9a}},
		{"Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) {5}", resInterrupt(irqConsumer|irqEdge, 5),
			[]byte{0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00}},
		{"Interrupt(ResourceProducer, Level, ActiveLow, Shared) {0x123, 24}", resInterrupt(irqActiveLow|irqShared, 0x123, 24),
			[]byte{0x89, 0x0a, 0x00, 0x0c, 0x02, 0x23, 0x01, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00}},
		{"IO(Decode16, 0x3F8, 0x3F8, 0, 8)", resIO(0x3f8, 0x3f8, 0, 8), []byte{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08}},
		{"IRQNoFlags() {4}", resIRQ(4), []byte{0x22, 0x10, 0x00}},
		{"IRQNoFlags() {1, 15}", resIRQ(1, 15), []byte{0x22, 0x02, 0x80}},
	} {
		if c.res.err != nil || !bytes.Equal(c.res.b, c.want) {
			t.Errorf("%s = % x, %v; want % x", c.name, c.res.b, c.res.err, c.want)
		}
	}
	if r := resInterrupt(irqConsumer, make([]uint32, 256)...); r.err == nil {
		t.Error("an interrupt descriptor with 256 interrupts was accepted")
	}
}

func TestAMLResourceTemplate(t *testing.T) {
	got, err := amlResourceTemplate(resMemory32(true, 0xd0000000, 0x1000), resInterrupt(irqConsumer|irqEdge, 5)).encode()
	if err != nil {
		t.Fatal(err)
	}
	// Buffer, PkgLength, size 23, the two descriptors, the end tag.
	wantHead := []byte{0x11, 0x1a, 0x0a, 0x17, 0x86}
	if !bytes.HasPrefix(got, wantHead) || len(got) != 2+2+23 {
		t.Fatalf("template = % x; want % x... and 27 bytes", got, wantHead)
	}
	data := got[4:]
	if data[len(data)-2] != resEndTag {
		t.Fatalf("template data % x does not end with an end tag", data)
	}
	if checksum(data) != 0 {
		t.Fatalf("template data % x does not sum to zero", data)
	}
	empty, err := amlResourceTemplate().encode()
	if want := []byte{0x11, 0x05, 0x0a, 0x02, 0x79, 0x87}; err != nil || !bytes.Equal(empty, want) {
		t.Fatalf("empty template = % x, %v; want % x", empty, err, want)
	}
}
