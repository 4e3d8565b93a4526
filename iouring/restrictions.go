//go:build linux

package iouring

import (
	"errors"
	"fmt"
)

// Restriction kinds (IORING_RESTRICTION_*).
const (
	RestrictionRegisterOp       uint16 = 0 // allow an io_uring_register opcode
	RestrictionSQEOp            uint16 = 1 // allow an SQE opcode
	RestrictionSQEFlagsAllowed  uint16 = 2 // allow these IOSQE_* flags
	RestrictionSQEFlagsRequired uint16 = 3 // require these IOSQE_* flags
)

// Restriction is struct io_uring_restriction. Arg is the union of
// register_op, sqe_op and sqe_flags.
type Restriction struct {
	Opcode uint16
	Arg    uint8
	resv   uint8
	resv2  [3]uint32
}

// AllowSQEOp allows SQE opcode op; every opcode not allowed fails with
// -EACCES in its CQE.
func AllowSQEOp(op uint8) Restriction { return Restriction{Opcode: RestrictionSQEOp, Arg: op} }

// AllowRegisterOp allows io_uring_register opcode op after EnableRings.
func AllowRegisterOp(op uint32) Restriction {
	return Restriction{Opcode: RestrictionRegisterOp, Arg: uint8(op)}
}

// AllowSQEFlags allows the IOSQE_* flags in f.
func AllowSQEFlags(f uint8) Restriction {
	return Restriction{Opcode: RestrictionSQEFlagsAllowed, Arg: f}
}

// RequireSQEFlags makes every SQE carry the IOSQE_* flags in f; with
// SQEFixedFile the ring can only touch files registered before EnableRings,
// as Firecracker configures it.
func RequireSQEFlags(f uint8) Restriction {
	return Restriction{Opcode: RestrictionSQEFlagsRequired, Arg: f}
}

// RegisterRestrictions limits what the ring may do. The ring must have been
// created with SetupRDisabled and not yet enabled; restrictions can be
// registered once. Call EnableRings afterwards.
func (r *Ring) RegisterRestrictions(res []Restriction) error {
	if r.fd < 0 {
		return ErrClosed
	}
	if len(res) == 0 {
		return errors.New("iouring: register restrictions: none given")
	}
	if r.params.Flags&SetupRDisabled == 0 {
		return errors.New("iouring: register restrictions: the ring must be created with SetupRDisabled")
	}
	if err := r.registerRestrictions(res); err != nil {
		return regError(fmt.Sprintf("register %d restrictions", len(res)), err)
	}
	return nil
}
