//go:build linux

package kvm

// kvm_cpuid_entry2 is ten 32-bit words, so kvm_cpuid2 buffers are built as
// []uint32: two header words (nent, padding), then the entries.
const cpuidEntryWords = 10

func decodeCPUID(words []uint32, n int) []CPUIDEntry2 {
	if max := len(words) / cpuidEntryWords; n > max {
		n = max
	}
	out := make([]CPUIDEntry2, n)
	for i := range out {
		w := words[i*cpuidEntryWords:]
		out[i] = CPUIDEntry2{Function: w[0], Index: w[1], Flags: w[2],
			EAX: w[3], EBX: w[4], ECX: w[5], EDX: w[6], Padding: [3]uint32{w[7], w[8], w[9]}}
	}
	return out
}

func encodeCPUID(entries []CPUIDEntry2) []uint32 {
	buf := make([]uint32, 2+len(entries)*cpuidEntryWords)
	buf[0] = uint32(len(entries))
	for i, e := range entries {
		w := buf[2+i*cpuidEntryWords:]
		w[0], w[1], w[2], w[3], w[4], w[5], w[6] = e.Function, e.Index, e.Flags, e.EAX, e.EBX, e.ECX, e.EDX
		w[7], w[8], w[9] = e.Padding[0], e.Padding[1], e.Padding[2]
	}
	return buf
}
