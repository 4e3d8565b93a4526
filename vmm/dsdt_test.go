package vmm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"vmm/internal/testutil"
)

func TestDSDT(t *testing.T) {
	for n := 0; n <= MaxVirtioDevices; n++ {
		dsdt, err := buildDSDT(n)
		if err != nil {
			t.Fatalf("%d devices: %v", n, err)
		}
		if string(dsdt[:4]) != "DSDT" || int(binary.LittleEndian.Uint32(dsdt[4:])) != len(dsdt) || checksum(dsdt) != 0 {
			t.Fatalf("%d devices: bad signature, length or checksum", n)
		}
		if len(dsdt) > dsdtMax {
			t.Fatalf("%d devices: %d bytes, more than the %d before acpiEnd", n, len(dsdt), dsdtMax)
		}
		if got := bytes.Count(dsdt, []byte(virtioMMIOACPID)); got != n {
			t.Fatalf("%d devices: %d LNRO0005 ids", n, got)
		}
		for i := 0; i < n; i++ {
			base, gsi := virtioSlot(i)
			mem := resMemory32(true, uint32(base), virtioMMIOSize).b
			irq := resInterrupt(irqConsumer|irqEdge, gsi).b
			if !bytes.Contains(dsdt, append(mem, irq...)) {
				t.Fatalf("%d devices: device %d's resources (%#x, GSI %d) are not in the table", n, i, base, gsi)
			}
		}
	}
}

func TestDSDTRefusesWhatDoesNotFit(t *testing.T) {
	for _, n := range []int{-1, MaxVirtioDevices + 1, 1000} {
		if _, err := buildDSDT(n); err == nil || !strings.Contains(err.Error(), fmt.Sprint(n)) {
			t.Errorf("buildDSDT(%d): %v; want an error naming the count", n, err)
		}
		if _, err := acpiTables(1, n); err == nil {
			t.Errorf("acpiTables(1, %d) accepted", n)
		}
	}
	full, err := buildDSDT(MaxVirtioDevices)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buildDSDTWithin(MaxVirtioDevices, len(full)); err != nil {
		t.Fatalf("a limit of exactly the table's size: %v", err)
	}
	_, err = buildDSDTWithin(MaxVirtioDevices, len(full)-1)
	if want := fmt.Sprintf("the DSDT for %d virtio devices is %d bytes; only %d fit", MaxVirtioDevices, len(full), len(full)-1); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("one byte short: %v; want %q", err, want)
	}
}

// TestLoadGuestWritesDSDT: the tables in guest RAM describe one device per
// disk.
func TestLoadGuestWritesDSDT(t *testing.T) {
	mem, err := NewMemory(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	k, err := ParseKernel(buildELF(elfMachineX86_64, 0x100000, []byte("KERNEL"), 0x100000, 0x100000))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{KernelName: "k", CPUs: 1, MemSize: 64 << 20, Disks: make([]DiskConfig, 3)}
	if err := loadGuest(mem, k, cfg); err != nil {
		t.Fatal(err)
	}
	hdr, err := mem.Slice(acpiDSDTAddr, sdtHeaderSize)
	if err != nil {
		t.Fatal(err)
	}
	dsdt, err := mem.Slice(acpiDSDTAddr, uint64(binary.LittleEndian.Uint32(hdr[4:])))
	if err != nil {
		t.Fatal(err)
	}
	if checksum(dsdt) != 0 || bytes.Count(dsdt, []byte(virtioMMIOACPID)) != 3 {
		t.Fatalf("the DSDT in guest RAM does not describe the 3 disks (checksum %#x)", checksum(dsdt))
	}
}

// iaslDevice is one device as the ACPICA disassembler prints it.
type iaslDevice struct {
	name, hid string
	uid       uint64
	crs       string // the resource template's body
}

var (
	iaslDeviceRE = regexp.MustCompile(`(?s)Device \((\w+)\)\s*\{\s*Name \(_HID, (EisaId \("\w+"\)|"\w+")[^\n]*\n` +
		`\s*Name \(_UID, (\w+)\)[^\n]*\n\s*Name \(_CRS, ResourceTemplate \(\)[^\n]*\n\s*\{(.*?)\n\s*\}\)\s*\n\s*\}`)
	// A comment to the end of the line.
	iaslComment = regexp.MustCompile(`\s*//[^\n]*`)
	iaslSpace   = regexp.MustCompile(`\s+`)
)

// iaslInteger reads an integer as the disassembler writes it.
func iaslInteger(s string) (uint64, error) {
	switch s {
	case "Zero":
		return 0, nil
	case "One":
		return 1, nil
	}
	return strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
}

// disassemble runs `iasl -d` on table and returns the ASL it prints.
func disassemble(t *testing.T, table []byte) string {
	t.Helper()
	iasl, err := exec.LookPath("iasl")
	if err != nil {
		testutil.Missing(t, "iasl not found (Debian package acpica-tools): the DSDT needs a second implementation of AML to check it")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dsdt.dat"), table, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(iasl, "-d", "dsdt.dat")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("iasl -d: %v\n%s", err, out)
	}
	if bytes.Contains(bytes.ToLower(out), []byte("error")) || bytes.Contains(bytes.ToLower(out), []byte("warning")) {
		t.Fatalf("iasl -d complains:\n%s", out)
	}
	asl, err := os.ReadFile(filepath.Join(dir, "dsdt.dsl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(asl)
}

// TestDSDTDisassembles checks our AML against a second implementation of
// the grammar: ACPICA's disassembler (iasl -d) must read the table without
// complaint and find COM1 and every virtio-mmio device with the register
// page and interrupt virtioSlot gives; compiled back without optimisations
// (iasl -oa), the ASL must give our bytes again, except for the resource
// templates' end-tag checksums, which iasl leaves zero.
func TestDSDTDisassembles(t *testing.T) {
	for _, n := range []int{0, 3, MaxVirtioDevices} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dsdt, err := buildDSDT(n)
			if err != nil {
				t.Fatal(err)
			}
			asl := disassemble(t, dsdt)
			if strings.Contains(asl, "Incorrect checksum") || !strings.Contains(asl, `DefinitionBlock ("", "DSDT", 2, "VMMGO ", "VMMTABLE", 0x00000001)`) {
				t.Fatalf("table header as disassembled:\n%s", asl)
			}
			if !strings.Contains(asl, `Scope (\_SB)`) {
				t.Fatalf(`no Scope (\_SB):\n%s`, asl)
			}
			var devs []iaslDevice
			for _, m := range iaslDeviceRE.FindAllStringSubmatch(asl, -1) {
				uid, err := iaslInteger(m[3])
				if err != nil {
					t.Fatalf("device %s: _UID %q: %v", m[1], m[3], err)
				}
				crs := iaslSpace.ReplaceAllString(iaslComment.ReplaceAllString(m[4], ""), " ")
				devs = append(devs, iaslDevice{name: m[1], hid: m[2], uid: uid, crs: strings.TrimSpace(crs)})
			}
			if got := strings.Count(asl, "Device ("); got != len(devs) || len(devs) != n+1 {
				t.Fatalf("%d devices in the ASL, %d parsed, want %d:\n%s", got, len(devs), n+1, asl)
			}
			com1 := iaslDevice{"COM1", `EisaId ("PNP0501")`, 1,
				"IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08, ) IRQNoFlags () {4}"}
			if devs[0] != com1 {
				t.Errorf("COM1 disassembles as %+v, want %+v", devs[0], com1)
			}
			for i, d := range devs[1:] {
				base, gsi := virtioSlot(i)
				want := iaslDevice{virtioACPIName(i), `"LNRO0005"`, uint64(i),
					fmt.Sprintf("Memory32Fixed (ReadWrite, 0x%08X, 0x00001000, ) "+
						"Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x%08X, }", base, gsi)}
				if d != want {
					t.Errorf("device %d disassembles as\n\t%+v\nwant\n\t%+v", i, d, want)
				}
			}
			recompiled := compile(t, asl)
			checkSameAML(t, dsdt, recompiled)
		})
	}
}

// compile runs `iasl -oa` (no optimisations) on asl and returns the table.
func compile(t *testing.T, asl string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dsdt.dsl"), []byte(asl), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("iasl", "-oa", "-p", "out", "dsdt.dsl")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("iasl -oa: %v\n%s", err, out)
	}
	aml, err := os.ReadFile(filepath.Join(dir, "out.aml"))
	if err != nil {
		t.Fatal(err)
	}
	return aml
}

// checkSameAML compares two DSDT bodies (past the header, whose creator
// fields differ): equal but where ours has an end tag's checksum and
// theirs has zero.
func checkSameAML(t *testing.T, ours, theirs []byte) {
	t.Helper()
	a, b := ours[sdtHeaderSize:], theirs[sdtHeaderSize:]
	if len(a) != len(b) {
		t.Fatalf("recompiled body is %d bytes, ours %d", len(b), len(a))
	}
	for i := range a {
		endTagChecksum := i > 0 && a[i-1] == resEndTag && b[i-1] == resEndTag && b[i] == 0
		if a[i] != b[i] && !endTagChecksum {
			t.Fatalf("recompiled body differs at offset %#x: ours % x, iasl's % x", sdtHeaderSize+i,
				a[max(0, i-8):min(len(a), i+8)], b[max(0, i-8):min(len(b), i+8)])
		}
	}
}
