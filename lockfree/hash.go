package lockfree

import (
	"hash/maphash"
	"math/bits"
)

// hashSeed is one map's hashing key: a maphash.Seed for maphash.Comparable,
// and a 64-bit word derived from it for the integer fast path.
type hashSeed struct {
	seed maphash.Seed
	word uint64
}

func newHashSeed() hashSeed {
	s := maphash.MakeSeed()
	return hashSeed{seed: s, word: maphash.Comparable(s, uint64(0x5eed))}
}

// hash returns key's hash with the top bit set, so that no entry's hash is
// zero, the hash markers carry. Slots are chosen by the low bits.
//
// Integer keys (bus addresses, port numbers, device ids) skip
// maphash.Comparable, which reaches the runtime's hasher through several
// calls, for two rounds of multiply-xorshift keyed by the map's seed: about
// 1 ns instead of 3, on the path every VM exit takes. That mix is not
// collision-resistant against an adversary who can pick the keys *inserted*;
// a guest only chooses which keys are looked up, and lookups cannot lengthen
// a chain. Named integer types (type Port uint16) take the maphash path.
//
// Load repeats hashKey's first test inline, saving the call for the
// commonest key type.
func hashKey[K comparable](s *hashSeed, key K) uint64 {
	if k, ok := any(key).(uint64); ok {
		return mix(s.word, k)
	}
	return hashOther(s, key)
}

func hashOther[K comparable](s *hashSeed, key K) uint64 {
	var v uint64
	switch k := any(key).(type) {
	case int:
		v = uint64(k)
	case uint32:
		v = uint64(k)
	case uint16:
		v = uint64(k)
	case uint:
		v = uint64(k)
	case uintptr:
		v = uint64(k)
	case int64:
		v = uint64(k)
	case int32:
		v = uint64(k)
	default:
		return maphash.Comparable(s.seed, key) | 1<<63
	}
	return mix(s.word, v)
}

// mix is two rounds of multiply-xorshift (as in wyhash) keyed by word, with
// the entry bit set.
func mix(word, v uint64) uint64 {
	hi, lo := bits.Mul64(v^word, 0x2d358dccaa6c78a5)
	hi, lo = bits.Mul64(hi^lo, 0x8bb84b93962eacc9)
	return (hi ^ lo) | 1<<63
}
