package vmm

import (
	"errors"
	"fmt"
	"strings"
)

// AML, the ACPI Machine Language: just enough of it to write a DSDT that
// describes devices — names, integers, strings, buffers, packages, Scope,
// Device, Name and resource templates. Section numbers refer to the ACPI
// 6.5 specification: §20.2 is the AML grammar, §6.4 the resource data types.
//
// Each constructor returns an amlTerm: the encoded bytes, or the first error
// met while building them. A term built from a term that carries an error
// carries that error on, so a whole table is checked once, when it is
// finished (amlTerm.encode), and building it never panics.

// AML opcodes and prefixes (§20.2.2 – §20.2.5).
const (
	amlZeroOp          = 0x00
	amlOneOp           = 0x01
	amlNameOp          = 0x08
	amlBytePrefix      = 0x0a
	amlWordPrefix      = 0x0b
	amlDWordPrefix     = 0x0c
	amlStringPrefix    = 0x0d
	amlQWordPrefix     = 0x0e
	amlScopeOp         = 0x10
	amlBufferOp        = 0x11
	amlPackageOp       = 0x12
	amlDualNamePrefix  = 0x2e
	amlMultiNamePrefix = 0x2f
	amlExtOpPrefix     = 0x5b
	amlDeviceOp        = 0x82 // after amlExtOpPrefix
	amlRootChar        = '\\'
	amlParentPrefix    = '^'
	amlNullName        = 0x00
)

// amlMaxPkgLength is the largest PkgLength: 28 bits (§20.2.4).
const amlMaxPkgLength = 1<<28 - 1

// amlTerm is an encoded AML term, or why it could not be encoded.
type amlTerm struct {
	b   []byte
	err error
}

// encode returns the term's bytes, or the first error met building it.
func (t amlTerm) encode() ([]byte, error) { return t.b, t.err }

func amlError(format string, args ...any) amlTerm {
	return amlTerm{err: fmt.Errorf("AML: "+format, args...)}
}

// amlJoin concatenates terms; the result carries the first error among them.
func amlJoin(terms []amlTerm) amlTerm {
	var b []byte
	for _, t := range terms {
		if t.err != nil {
			return t
		}
		b = append(b, t.b...)
	}
	return amlTerm{b: b}
}

// amlPkgLength encodes the PkgLength of a package whose contents after the
// PkgLength are n bytes long. The encoded length counts the PkgLength bytes
// themselves (§20.2.4): one byte holds up to 63 in its low 6 bits; longer
// lengths put the byte count that follows in bits 7-6 of the lead byte,
// the low nibble in bits 3-0, and the rest in up to three bytes after it,
// least significant first.
func amlPkgLength(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("AML: negative package length %d", n)
	}
	if n+1 <= 0x3f {
		return []byte{byte(n + 1)}, nil
	}
	for extra := 1; extra <= 3; extra++ {
		total := n + 1 + extra
		if total < 1<<(4+8*extra) {
			b := []byte{byte(extra<<6) | byte(total&0xf)}
			for i := 0; i < extra; i++ {
				b = append(b, byte(total>>(4+8*i)))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("AML: a package of %d bytes is longer than PkgLength can encode (%d)", n, amlMaxPkgLength)
}

// amlPackageOf prefixes contents with op and their PkgLength.
func amlPackageOf(op []byte, contents amlTerm) amlTerm {
	if contents.err != nil {
		return contents
	}
	pl, err := amlPkgLength(len(contents.b))
	if err != nil {
		return amlTerm{err: err}
	}
	b := append(append(append([]byte{}, op...), pl...), contents.b...)
	return amlTerm{b: b}
}

// amlNameSeg checks one segment of a name path and pads it to four
// characters with '_' (§20.2.2: a lead character A-Z or '_', then A-Z, 0-9
// or '_').
func amlNameSeg(seg string) ([]byte, error) {
	if len(seg) == 0 || len(seg) > 4 {
		return nil, fmt.Errorf("AML name segment %q: must be 1 to 4 characters", seg)
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		lead := c >= 'A' && c <= 'Z' || c == '_'
		if !lead && (i == 0 || c < '0' || c > '9') {
			return nil, fmt.Errorf("AML name segment %q: character %q not allowed there (A-Z, _, and 0-9 after the first)", seg, c)
		}
	}
	return []byte(seg + strings.Repeat("_", 4-len(seg))), nil
}

// amlNameString encodes a name path such as `\_SB.VR00`, `^FOO` or `_HID`
// (§20.2.2): an optional root or parent prefixes, then the segments joined
// by '.', each padded to four characters.
func amlNameString(path string) amlTerm {
	var b []byte
	rest := path
	if strings.HasPrefix(rest, `\`) {
		b = append(b, amlRootChar)
		rest = rest[1:]
	} else {
		for strings.HasPrefix(rest, "^") {
			b = append(b, amlParentPrefix)
			rest = rest[1:]
		}
	}
	if rest == "" {
		return amlTerm{b: append(b, amlNullName)}
	}
	segs := strings.Split(rest, ".")
	switch {
	case len(segs) == 2:
		b = append(b, amlDualNamePrefix)
	case len(segs) > 255:
		return amlError("name %q has %d segments; at most 255", path, len(segs))
	case len(segs) > 2:
		b = append(b, amlMultiNamePrefix, byte(len(segs)))
	}
	for _, s := range segs {
		enc, err := amlNameSeg(s)
		if err != nil {
			return amlTerm{err: fmt.Errorf("%w (in %q)", err, path)}
		}
		b = append(b, enc...)
	}
	return amlTerm{b: b}
}

// amlInteger encodes v in the fewest bytes (§20.2.3): ZeroOp, OneOp, or a
// byte, word, dword or qword constant. OnesOp is never used for all-ones:
// its value depends on the table's revision (32 bits below revision 2).
// A qword constant needs a table of revision 2 or later.
func amlInteger(v uint64) amlTerm {
	switch {
	case v == 0:
		return amlTerm{b: []byte{amlZeroOp}}
	case v == 1:
		return amlTerm{b: []byte{amlOneOp}}
	case v <= 0xff:
		return amlTerm{b: []byte{amlBytePrefix, byte(v)}}
	case v <= 0xffff:
		return amlTerm{b: []byte{amlWordPrefix, byte(v), byte(v >> 8)}}
	case v <= 0xffffffff:
		return amlTerm{b: []byte{amlDWordPrefix, byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}}
	}
	b := []byte{amlQWordPrefix}
	for i := 0; i < 8; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return amlTerm{b: b}
}

// amlString encodes an ASCII string constant (§20.2.3: characters
// 0x01-0x7f, then a NUL).
func amlString(s string) amlTerm {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] > 0x7f {
			return amlError("string %q: byte %#x at %d is not ASCII 0x01-0x7f", s, s[i], i)
		}
	}
	return amlTerm{b: append(append([]byte{amlStringPrefix}, s...), 0)}
}

// amlEISAID encodes a PNP identifier such as "PNP0501" as the 32-bit
// compressed EISA ID that ASL's EisaId() produces (§19.6.35): three
// letters of five bits each (A = 1) in a big-endian 16-bit word, then the
// four hex digits as two bytes; the four bytes in that order are the
// integer's little-endian representation.
func amlEISAID(id string) amlTerm {
	if len(id) != 7 {
		return amlError("EISA ID %q: want three letters A-Z and four hex digits", id)
	}
	var word uint16
	for i := 0; i < 3; i++ {
		c := id[i]
		if c < 'A' || c > 'Z' {
			return amlError("EISA ID %q: want three letters A-Z and four hex digits", id)
		}
		word = word<<5 | uint16(c-'@')
	}
	var product uint16
	for i := 3; i < 7; i++ {
		c := id[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return amlError("EISA ID %q: want three letters A-Z and four hex digits", id)
		}
		product = product<<4 | uint16(d)
	}
	v := uint32(word>>8) | uint32(word&0xff)<<8 | uint32(product>>8)<<16 | uint32(product&0xff)<<24
	return amlInteger(uint64(v))
}

// amlName is Name(path, value): DefName := NameOp NameString DataRefObject
// (§20.2.5.1).
func amlName(path string, value amlTerm) amlTerm {
	return amlJoin([]amlTerm{{b: []byte{amlNameOp}}, amlNameString(path), value})
}

// amlScope is Scope(path) { terms }: ScopeOp PkgLength NameString TermList
// (§20.2.5.1).
func amlScope(path string, terms ...amlTerm) amlTerm {
	return amlPackageOf([]byte{amlScopeOp}, amlJoin(append([]amlTerm{amlNameString(path)}, terms...)))
}

// amlDevice is Device(path) { terms }: ExtOpPrefix DeviceOp PkgLength
// NameString TermList (§20.2.5.2).
func amlDevice(path string, terms ...amlTerm) amlTerm {
	return amlPackageOf([]byte{amlExtOpPrefix, amlDeviceOp}, amlJoin(append([]amlTerm{amlNameString(path)}, terms...)))
}

// amlBuffer is a buffer initialised with data: BufferOp PkgLength
// BufferSize ByteList (§20.2.5.4), the size as an integer constant.
func amlBuffer(data []byte) amlTerm {
	return amlPackageOf([]byte{amlBufferOp}, amlJoin([]amlTerm{amlInteger(uint64(len(data))), {b: data}}))
}

// amlPackage is Package() { elements }: PackageOp PkgLength NumElements
// PackageElementList (§20.2.5.4); NumElements is one byte.
func amlPackage(elements ...amlTerm) amlTerm {
	if len(elements) > 255 {
		return amlError("package of %d elements; at most 255", len(elements))
	}
	return amlPackageOf([]byte{amlPackageOp}, amlJoin(append([]amlTerm{{b: []byte{byte(len(elements))}}}, elements...)))
}

// Resource data (§6.4). A resource template is a buffer holding
// descriptors and an end tag.

// amlResource is one encoded resource descriptor, or why it could not be.
type amlResource struct {
	b   []byte
	err error
}

// Descriptor tags: small items are one byte (type << 3 | length), large
// items 0x80 | type followed by a 16-bit length (§6.4.1).
const (
	resIRQNoFlags        = 0x22 // small IRQ descriptor, 2 bytes of mask (§6.4.2.1)
	resIOPort            = 0x47 // small I/O port descriptor, 7 bytes (§6.4.2.5)
	resEndTag            = 0x79 // small end tag, 1 byte of checksum (§6.4.2.9)
	resMemory32Fixed     = 0x86 // large, 9 bytes (§6.4.3.4)
	resExtendedInterrupt = 0x89 // large, 2 + 4n bytes (§6.4.3.6)
)

// Extended interrupt flags (§6.4.3.6, byte 3).
const (
	irqConsumer    = 1 << 0 // ResourceConsumer (else ResourceProducer)
	irqEdge        = 1 << 1 // Edge (else Level)
	irqActiveLow   = 1 << 2 // ActiveLow (else ActiveHigh)
	irqShared      = 1 << 3 // Shared (else Exclusive)
	irqWakeCapable = 1 << 4 // ...AndWake
)

// resMemory32 is Memory32Fixed(ReadWrite or ReadOnly, base, length).
func resMemory32(writable bool, base, length uint32) amlResource {
	info := byte(0)
	if writable {
		info = 1
	}
	return amlResource{b: []byte{resMemory32Fixed, 9, 0, info,
		byte(base), byte(base >> 8), byte(base >> 16), byte(base >> 24),
		byte(length), byte(length >> 8), byte(length >> 16), byte(length >> 24)}}
}

// resInterrupt is Interrupt(...) { gsis } with the given irq* flags.
func resInterrupt(flags byte, gsis ...uint32) amlResource {
	if len(gsis) == 0 || len(gsis) > 255 {
		return amlResource{err: fmt.Errorf("AML: an interrupt descriptor lists 1 to 255 interrupts, not %d", len(gsis))}
	}
	n := 2 + 4*len(gsis)
	b := []byte{resExtendedInterrupt, byte(n), byte(n >> 8), flags, byte(len(gsis))}
	for _, g := range gsis {
		b = append(b, byte(g), byte(g>>8), byte(g>>16), byte(g>>24))
	}
	return amlResource{b: b}
}

// resIO is IO(Decode16, min, max, align, length).
func resIO(min, max uint16, align, length uint8) amlResource {
	return amlResource{b: []byte{resIOPort, 1, byte(min), byte(min >> 8), byte(max), byte(max >> 8), align, length}}
}

// resIRQ is IRQNoFlags() { irqs }: ISA IRQs 0-15, edge, active high.
func resIRQ(irqs ...uint8) amlResource {
	var mask uint16
	for _, irq := range irqs {
		if irq > 15 {
			return amlResource{err: fmt.Errorf("AML: ISA IRQ %d out of range 0-15", irq)}
		}
		mask |= 1 << irq
	}
	return amlResource{b: []byte{resIRQNoFlags, byte(mask), byte(mask >> 8)}}
}

// amlResourceTemplate is ResourceTemplate() { descriptors }: a buffer of
// the descriptors and an end tag whose checksum makes the bytes of the
// whole template sum to zero (§6.4.2.9).
func amlResourceTemplate(descriptors ...amlResource) amlTerm {
	var b []byte
	var errs []error
	for _, d := range descriptors {
		errs = append(errs, d.err)
		b = append(b, d.b...)
	}
	if err := errors.Join(errs...); err != nil {
		return amlTerm{err: err}
	}
	b = append(b, resEndTag)
	b = append(b, checksum(b))
	return amlBuffer(b)
}
