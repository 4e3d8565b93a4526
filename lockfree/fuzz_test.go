package lockfree

import (
	"encoding/binary"
	"testing"
)

// FuzzMapAgainstBuiltin replays a byte string as a sequence of operations on
// a Map and on a plain map[uint16]uint32 (the model), and fails on the first
// difference. Keys are drawn from a small space so that buckets collide,
// chains form, entries are deleted from their middle, and the map grows.
func FuzzMapAgainstBuiltin(f *testing.F) {
	f.Add([]byte{0, 1, 0, 5, 1, 1, 0, 0, 4, 1, 0})
	f.Add([]byte("store load delete store again and grow grow grow grow grow grow grow"))
	seq := make([]byte, 0, 4*600)
	for i := range 600 {
		seq = append(seq, byte(i%3), byte(i), byte(i>>8&1), byte(i*7))
	}
	f.Add(seq)
	f.Fuzz(func(t *testing.T, ops []byte) {
		m := New[uint16, uint32](0)
		model := map[uint16]uint32{}
		for len(ops) >= 4 {
			op, key, val := ops[0]%8, binary.LittleEndian.Uint16(ops[1:3])%512, uint32(ops[3])
			ops = ops[4:]
			mv, mok := model[key]
			switch op {
			case 0:
				m.Store(key, val)
				model[key] = val
			case 1:
				v, ok := m.Load(key)
				if ok != mok || v != mv {
					t.Fatalf("Load(%d) = %d, %v; model %d, %v", key, v, ok, mv, mok)
				}
			case 2:
				m.Delete(key)
				delete(model, key)
			case 3:
				v, loaded := m.LoadOrStore(key, val)
				if loaded != mok || (mok && v != mv) || (!mok && v != val) {
					t.Fatalf("LoadOrStore(%d, %d) = %d, %v; model %d, %v", key, val, v, loaded, mv, mok)
				}
				if !mok {
					model[key] = val
				}
			case 4:
				v, ok := m.LoadAndDelete(key)
				if ok != mok || v != mv {
					t.Fatalf("LoadAndDelete(%d) = %d, %v; model %d, %v", key, v, ok, mv, mok)
				}
				delete(model, key)
			case 5:
				old := val % 4 // small so it sometimes matches
				swapped := CompareAndSwap(m, key, old, val)
				if want := mok && mv == old; swapped != want {
					t.Fatalf("CompareAndSwap(%d, %d, %d) = %v; model has %d, %v", key, old, val, swapped, mv, mok)
				}
				if swapped {
					model[key] = val
				}
			case 6:
				v, ok := m.Swap(key, val)
				if ok != mok || v != mv {
					t.Fatalf("Swap(%d) = %d, %v; model %d, %v", key, v, ok, mv, mok)
				}
				model[key] = val
			case 7:
				deleted := CompareAndDelete(m, key, val%4)
				if want := mok && mv == val%4; deleted != want {
					t.Fatalf("CompareAndDelete(%d, %d) = %v; model has %d, %v", key, val%4, deleted, mv, mok)
				}
				if deleted {
					delete(model, key)
				}
			}
		}
		if m.Len() != len(model) {
			t.Fatalf("Len = %d, model has %d", m.Len(), len(model))
		}
		seen := 0
		m.Range(func(k uint16, v uint32) bool {
			seen++
			if mv, ok := model[k]; !ok || mv != v {
				t.Fatalf("Range gave %d=%d; model %d, %v", k, v, mv, ok)
			}
			return true
		})
		if seen != len(model) {
			t.Fatalf("Range visited %d entries, model has %d", seen, len(model))
		}
	})
}
