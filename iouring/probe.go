//go:build linux

package iouring

// opSupported is IO_URING_OP_SUPPORTED in io_uring_probe_op.flags.
const opSupported = 1 << 0

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// probeBuf is struct io_uring_probe followed by room for every opcode.
type probeBuf struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [256]probeOp
}

// Probe says which SQE opcodes the running kernel supports.
type Probe struct {
	lastOp    uint8
	supported [256]bool
}

// LastOp is the highest opcode the kernel knows.
func (p *Probe) LastOp() uint8 { return p.lastOp }

// Supported reports whether the kernel accepts opcode op.
func (p *Probe) Supported(op uint8) bool { return p.supported[op] }

// SupportedOps lists the supported opcodes in ascending order.
func (p *Probe) SupportedOps() []uint8 {
	var out []uint8
	for op, ok := range p.supported {
		if ok {
			out = append(out, uint8(op))
		}
	}
	return out
}

// RegisterProbe asks the kernel which opcodes it supports
// (IORING_REGISTER_PROBE, Linux 5.6+).
func (r *Ring) RegisterProbe() (*Probe, error) {
	if r.fd < 0 {
		return nil, ErrClosed
	}
	var buf probeBuf
	if err := r.registerProbe(&buf); err != nil {
		return nil, regError("probe opcodes", err)
	}
	p := &Probe{lastOp: buf.lastOp}
	for i := 0; i < int(buf.opsLen); i++ {
		o := buf.ops[i]
		if o.flags&opSupported != 0 {
			p.supported[o.op] = true
		}
	}
	return p, nil
}

// ProbeOpcodes sets up a throwaway ring, probes it and tears it down: the
// one call `vmm check` needs. A setup failure wraps the errno (EPERM, ENOSYS).
func ProbeOpcodes() (*Probe, error) {
	r, err := Setup(2, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.RegisterProbe()
}
