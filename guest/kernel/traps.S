/*
 * traps.S: interrupt entry stubs and the two fault probes used by the
 * exceptions test.
 *
 * Every stub leaves the same frame (struct trap_frame in tiny.h): general
 * registers, vector, error code (0 when the CPU pushes none), then the CPU's
 * own RIP/CS/RFLAGS/RSP/SS. trap_dispatch may rewrite frame->rip to resume
 * somewhere else.
 */

	.text
	.code64

.macro STUB_NOERR vec
	.balign 16
trap_stub_\vec:
	pushq $0
	pushq $\vec
	jmp trap_common
.endm

.macro STUB_ERR vec
	.balign 16
trap_stub_\vec:
	pushq $\vec
	jmp trap_common
.endm

STUB_NOERR 0
STUB_NOERR 1
STUB_NOERR 2
STUB_NOERR 3
STUB_NOERR 4
STUB_NOERR 5
STUB_NOERR 6
STUB_NOERR 7
STUB_ERR 8
STUB_NOERR 9
STUB_ERR 10
STUB_ERR 11
STUB_ERR 12
STUB_ERR 13
STUB_ERR 14
STUB_NOERR 15
STUB_NOERR 16
STUB_ERR 17
STUB_NOERR 18
STUB_NOERR 19
STUB_NOERR 20
STUB_ERR 21
STUB_NOERR 22
STUB_NOERR 23
STUB_NOERR 24
STUB_NOERR 25
STUB_NOERR 26
STUB_NOERR 27
STUB_NOERR 28
STUB_ERR 29
STUB_ERR 30
STUB_NOERR 31
STUB_NOERR 0x40
STUB_NOERR 0x41
STUB_NOERR 0xff
STUB_NOERR 0x42
STUB_NOERR 0x43
/* virtio disks: VECTOR_VIRTIO_BASE (0x50) + slot, VIRTIO_VECTORS (16) of them. */
.irp v, 0x50,0x51,0x52,0x53,0x54,0x55,0x56,0x57,0x58,0x59,0x5a,0x5b,0x5c,0x5d,0x5e,0x5f
STUB_NOERR \v
.endr
/* The i8042 keyboard (IOAPIC input 1) in the ctrlaltdel case. */
STUB_NOERR 0x44
STUB_NOERR 0x45

trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call trap_dispatch
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

/* Vector → stub table for idt.c; 0 means no gate. */
	.section .rodata
	.balign 8
	.global trap_stubs
trap_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad trap_stub_\v
	.endr
	.global trap_stub_0x40, trap_stub_0x41, trap_stub_0xff, trap_stub_0x42, trap_stub_0x43
	.quad trap_stub_0x40, trap_stub_0x41, trap_stub_0xff, trap_stub_0x42, trap_stub_0x43
	.irp v, 0x50,0x51,0x52,0x53,0x54,0x55,0x56,0x57,0x58,0x59,0x5a,0x5b,0x5c,0x5d,0x5e,0x5f
	.quad trap_stub_\v
	.endr
	.quad trap_stub_0x44
	.global trap_stub_0x45
	.quad trap_stub_0x45

	.text
/*
 * u64 probe_read(u64 addr, volatile int *faulted): read a qword at addr. If
 * the read faults, the #PF handler resumes at probe_read_fixup, which sets
 * *faulted and returns ~0.
 */
	.global probe_read, probe_read_insn, probe_read_fixup
probe_read:
	xor %eax, %eax
probe_read_insn:
	mov (%rdi), %rax
	ret
probe_read_fixup:
	movl $1, (%rsi)
	mov $-1, %rax
	ret

/* void ud2_probe(void): raise #UD; the handler skips the 2-byte ud2. */
	.global ud2_probe, ud2_insn
ud2_probe:
ud2_insn:
	ud2
	ret
