/*
 * boot.S: PVH and multiboot entries, page tables, the switch to long mode,
 * and the AP trampoline.
 *
 * PVH: the VMM (or QEMU) finds the 32-bit entry point in the Xen ELF note
 * XEN_ELFNOTE_PHYS32_ENTRY and jumps there in flat 32-bit protected mode with
 * paging off, interrupts off and EBX = guest-physical address of
 * struct hvm_start_info. Multiboot (version 1): the loader finds the header
 * below in the file's first 8 KiB and jumps to mb_start in the same state,
 * with EAX = 0x2BADB002 and EBX = the multiboot information block. Nothing
 * else is promised: no stack, no GDT we own.
 */

#include "tiny.h"

#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define SEL_CODE32 0x18

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* Multiboot 1 header: modules page-aligned (bit 0), memory info (bit 1),
 * load addresses in the header (bit 16, the "a.out kludge", so that QEMU,
 * which loads no ELF64 for multiboot, boots this image too). */
#define MULTIBOOT_HEADER_MAGIC 0x1BADB002
#define MULTIBOOT_FLAGS 0x00010003

#define CR0_PE 0x00000001
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

/* 2 MiB page-directory entry bits. */
#define PDE_P 0x001
#define PDE_RW 0x002
#define PDE_PWT 0x008
#define PDE_PCD 0x010
#define PDE_PS 0x080

#define BSP_STACK_SIZE 0x8000

/* struct hvm_start_info (bootinfo.c): magic and the command line's address. */
#define HVM_START_MAGIC 0x336ec578
#define HVM_START_CMDLINE 24
#define CMDLINE_SCAN_MAX 2048
/* The multiboot information block (bootinfo.c): flags bit 2 says cmdline (at +16) is valid. */
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002
#define MULTIBOOT_INFO_CMDLINE 0x4
#define MULTIBOOT_INFO_CMDLINE_ADDR 16

/* ---------------------------------------------------------------------- */
/* The PVH note: a 4-byte entry address, like Linux's head.S. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4f - 3f /* namesz */
	.long 6f - 5f /* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
3:	.asciz "Xen"
4:	.balign 4
5:	.long pvh_start
6:	.balign 4

/* ---------------------------------------------------------------------- */
/* The multiboot header; linker.ld keeps it in the file's first 8 KiB. */
	.section .multiboot, "a"
	.balign 4
	.global multiboot_header
multiboot_header:
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_FLAGS)
	.long multiboot_header /* header_addr */
	.long __image_start /* load_addr */
	.long __load_end /* load_end_addr */
	.long __image_end /* bss_end_addr: .bss and .noinit, so that loaders keep their boot information out of both */
	.long mb_start /* entry_addr */

/* ---------------------------------------------------------------------- */
/*
 * Enter long mode from flat 32-bit protected mode. Uses no stack, so the AP
 * path can share it before it has one. Clobbers EAX, ECX, EDX.
 */
.macro ENTER_LONG_MODE
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE), %eax
	mov %eax, %cr0
.endm

.macro LOAD_DATA_SEGMENTS
	mov $SEL_DATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
.endm

	.section .text.boot, "ax"
	.code32
	.global pvh_start
pvh_start:
	cli
	cld
	xor %esi, %esi /* the command line, when start_info gives one below 4 GiB */
	cmpl $HVM_START_MAGIC, (%ebx)
	jne 1f
	cmpl $0, HVM_START_CMDLINE+4(%ebx)
	jne 1f
	mov HVM_START_CMDLINE(%ebx), %esi
1:	mov $.Lpvh_boot, %edi
	jmp early_test_none
.Lpvh_boot:
	mov %ebx, %esi /* struct hvm_start_info * */
	mov $BOOT_PVH, %edx
	xor %ebp, %ebp
	jmp start32

	.global mb_start
mb_start:
	cli
	cld
	mov %eax, %ebp /* bootinfo.c checks the loader's magic */
	xor %esi, %esi
	cmp $MULTIBOOT_BOOTLOADER_MAGIC, %eax
	jne 1f
	testl $MULTIBOOT_INFO_CMDLINE, (%ebx)
	jz 1f
	mov MULTIBOOT_INFO_CMDLINE_ADDR(%ebx), %esi
1:	mov $.Lmb_boot, %edi
	jmp early_test_none
.Lmb_boot:
	mov %ebx, %esi /* multiboot information block */
	mov $BOOT_MULTIBOOT, %edx
	jmp start32

/*
 * early_test_none: with test=none (the last test= token, as in main.c)
 * on the command line at ESI (0: none), print "tiny: none" and write 0 to
 * the exit port before anything else: no stack, no .bss, no page tables,
 * so that a run measures the VMM's boot cost and as little guest work as
 * possible (scripts/bench). Otherwise jump to EDI. Keeps EBX and EBP;
 * reads at most 9 bytes past the end of the command line.
 */
early_test_none:
	test %esi, %esi
	jz .Lnot_none
	xor %edx, %edx /* 1 while the last test= token is "none" */
	mov $CMDLINE_SCAN_MAX, %ecx /* bytes left to look at */
.Lspaces:
	cmpb $' ', (%esi)
	jne 1f
	inc %esi
	dec %ecx
	jnz .Lspaces
	jmp .Lscanned
1:	cmpb $0, (%esi)
	je .Lscanned
	cmpl $0x74736574, (%esi) /* "test" */
	jne .Ltoken_rest
	cmpb $'=', 4(%esi)
	jne .Ltoken_rest
	xor %edx, %edx
	cmpl $0x656e6f6e, 5(%esi) /* "none" */
	jne .Ltoken_rest
	movzbl 9(%esi), %eax
	cmp $' ', %al
	je 2f
	test %al, %al
	jnz .Ltoken_rest
2:	mov $1, %edx
.Ltoken_rest:
	cmpb $' ', (%esi)
	je .Lspaces
	cmpb $0, (%esi)
	je .Lscanned
	inc %esi
	dec %ecx
	jnz .Ltoken_rest
.Lscanned:
	test %edx, %edx
	jnz .Lnone
.Lnot_none:
	jmp *%edi
.Lnone:
	/* Like finish(): the line, 0 to the exit port, then the i8042 reset. */
	mov $none_line, %esi
	mov $PORT_COM1, %dx
3:	lodsb
	test %al, %al
	jz 4f
	outb %al, %dx /* no THRE poll: every VMM here takes a byte at once */
	jmp 3b
4:	xor %eax, %eax
	mov $PORT_TEST_EXIT, %dx
	outl %eax, %dx
	mov $0xfe, %al
	mov $PORT_I8042_CMD, %dx
	outb %al, %dx
5:	cli
	hlt
	jmp 5b

start32:
	/*
	 * Zero .bss (page tables and everything C expects zeroed); keeps ESI,
	 * EDX, EBP. Stacks and spare page tables sit in .noinit instead: on a
	 * KVM that emulates every iteration of rep stos, zeroing them cost
	 * about 0.1 s.
	 */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	shr $2, %ecx /* linker.ld aligns both ends to 16 bytes */
	xor %eax, %eax
	rep stosl

	mov %esi, boot_start_info
	mov %edx, boot_protocol
	mov %ebp, boot_magic
	lgdt gdt_desc
	LOAD_DATA_SEGMENTS
	ljmp $SEL_CODE32, $1f
1:
	mov $bsp_stack_top, %esp

	/*
	 * Identity map with 2 MiB pages:
	 *   0          - 2 GiB  RAM (write-back)        pd_low[0..1023]
	 *   2 GiB      - 3 GiB  unmapped: #PF test range, mapped later only
	 *                       where the memmap says RAM is there
	 *   3 GiB      - 4 GiB  device hole (uncached)  pd_hole[0..511]
	 */
	mov $pdpt_low, %eax
	or $(PDE_P | PDE_RW), %eax
	mov %eax, pml4

	mov $pd_low, %eax
	or $(PDE_P | PDE_RW), %eax
	mov %eax, pdpt_low + 0
	add $0x1000, %eax
	mov %eax, pdpt_low + 8
	mov $pd_hole, %eax
	or $(PDE_P | PDE_RW), %eax
	mov %eax, pdpt_low + 24

	mov $pd_low, %edi
	mov $(PDE_P | PDE_RW | PDE_PS), %eax
	mov $1024, %ecx
2:	mov %eax, (%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 2b

	mov $pd_hole, %edi
	mov $(0xc0000000 | PDE_P | PDE_RW | PDE_PS | PDE_PCD | PDE_PWT), %eax
	mov $512, %ecx
3:	mov %eax, (%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 3b

	ENTER_LONG_MODE
	ljmp $SEL_CODE64, $bsp_entry64

	.code64
bsp_entry64:
	LOAD_DATA_SEGMENTS
	mov $bsp_stack_top, %rsp
	xor %ebp, %ebp
	mov boot_start_info, %edi
	mov boot_protocol, %esi
	mov boot_magic, %edx
	call kmain
	jmp halt_forever

	.global halt_forever
halt_forever:
	cli
	hlt
	jmp halt_forever

/* ---------------------------------------------------------------------- */
/*
 * AP trampoline. smp.c copies [ap_tramp_start, ap_tramp_end) to 0x70000 and
 * sends SIPI vector 0x70, so an AP starts here in real mode with CS=0x7000,
 * IP=0. Everything it touches before the far jump is relative to CS.
 */
	.code16
	.global ap_tramp_start, ap_tramp_end
ap_tramp_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl (ap_tramp_gdtr - ap_tramp_start)
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	ljmpl $SEL_CODE32, $ap_entry32
	.balign 8
ap_tramp_gdtr:
	.word gdt_end - gdt - 1
	.long gdt
ap_tramp_end:

	.code32
ap_entry32:
	LOAD_DATA_SEGMENTS
	ENTER_LONG_MODE
	ljmp $SEL_CODE64, $ap_entry64

	.code64
ap_entry64:
	LOAD_DATA_SEGMENTS
	/* Take a stack slot: slot n uses ap_stacks[n]. */
	mov $1, %eax
	lock xadd %eax, ap_next_slot
	cmp $MAX_CPUS, %eax
	jae halt_forever
	inc %eax
	shl $AP_STACK_SHIFT, %rax
	add $ap_stacks, %rax
	mov %rax, %rsp
	xor %ebp, %ebp
	call ap_main
	jmp halt_forever

/* ---------------------------------------------------------------------- */
	.data
	.balign 16
	/* Accessed bits preset so loading a selector never writes the GDT. */
gdt:
	.quad 0
	.quad 0x00af9b000000ffff /* 0x08: 64-bit code */
	.quad 0x00cf93000000ffff /* 0x10: flat data */
	.quad 0x00cf9b000000ffff /* 0x18: flat 32-bit code */
gdt_end:
	.balign 8
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

none_line:
	.asciz "tiny: none\n"

	.global boot_start_info, boot_protocol, boot_magic
	.balign 4
boot_start_info:
	.long 0
boot_protocol:
	.long 0
boot_magic:
	.long 0

	.global ap_next_slot
	.balign 4
ap_next_slot:
	.long 0

	.bss
	.balign 4096
	.global pml4, pdpt_low
pml4:	.skip 4096
pdpt_low:	.skip 4096
pd_low:	.skip 8192
pd_hole:	.skip 4096

	/* Stacks need no zeroing (see start32). */
	.section .noinit, "aw", @nobits
	.balign 16
bsp_stack:	.skip BSP_STACK_SIZE
bsp_stack_top:

	.balign 16
	.global ap_stacks
ap_stacks:	.skip (MAX_CPUS << AP_STACK_SHIFT)
