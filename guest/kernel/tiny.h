/*
 * tiny.h: shared declarations for the vmm tiny test kernel.
 *
 * The kernel is freestanding: no libc, no SSE (-mgeneral-regs-only), identity
 * mapped, one address space for every CPU. See docs/guest.md for the boot
 * contract with the VMM.
 */
#ifndef TINY_H
#define TINY_H

/* Constants first: boot.S includes this file for them. */
#define MAX_CPUS 32
#define AP_STACK_SHIFT 13 /* 8 KiB stack per AP */
/* How the kernel was entered (boot.S passes it to kmain). */
#define BOOT_PVH 1
#define BOOT_MULTIBOOT 2
/* Reached only by `int $0x42` in repair_sites.S (repair_sites.S includes this). */
#define VECTOR_REPAIR_INTN 0x42

/* Ports (boot.S uses some of them too; docs/guest.md). */
#define PORT_COM1 0x3f8
#define PORT_TEST_EXIT 0xf4
#define PORT_TEST_SCRATCH 0xf8
#define PORT_TEST_IRQ 0xfc
#define PORT_I8042_CMD 0x64
/* Unclaimed by vmm, QEMU microvm and the bench's C floor (tests_bench.c). */
#define PORT_BENCH_UNCLAIMED 0x300

#ifndef __ASSEMBLER__
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;

#define KiB 1024UL
#define MiB (1024UL * KiB)
#define GiB (1024UL * MiB)

/* Addresses of the VMM's test devices (docs/guest.md); their ports are above. */
/* QEMU's pc-testdev ports (vmm with --test-exit, QEMU with -device pc-testdev). */
#define PORT_PCTEST_ECHO 0xe0
#define PORT_PCTEST_FLUSH 0xe4
#define PORT_PCTEST_IRQ 0x2000 /* + IOAPIC input */
#define PORT_FW_CFG_SEL 0x510
#define PORT_FW_CFG_DATA 0x511
#define MMIO_TEST_SCRATCH 0xC0000000UL
/* Unclaimed by vmm, QEMU microvm and the bench's C floor (tests_bench.c). */
#define MMIO_BENCH_UNCLAIMED 0xC8000000UL

#define VECTOR_TEST_IRQ 0x40
#define VECTOR_APIC_TIMER 0x41
#define VECTOR_PCTEST_IRQ 0x43
#define VECTOR_KBD_IRQ 0x44 /* the i8042 keyboard, ctrlaltdel case */
#define VECTOR_SERIAL_RX 0x45 /* COM1 (ISA IRQ 4) through IOAPIC pin 4, idle case */
#define VECTOR_SPURIOUS 0xff
/* One vector per virtio-mmio disk slot: 0x50 + slot (virtio_blk.c). */
#define VECTOR_VIRTIO_BASE 0x50
#define VIRTIO_VECTORS 16

/* Where APs start: SIPI vector 0x70 means CS=0x7000, IP=0. */
#define AP_TRAMPOLINE_PADDR 0x70000UL
#define AP_SIPI_VECTOR 0x70

/* lib.c */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
bool str_eq_n(const char *a, size_t alen, const char *b);
bool parse_u64(const char *s, size_t n, u64 *out);

/* serial.c */
void serial_init(void);
void pic_mask_all(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);
bool serial_thre_ok(void);

/* print.c */
int vformat(char *buf, size_t size, const char *fmt, va_list ap);
int format(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kprintf_nolock(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* spinlock.c */
typedef struct {
	volatile u32 locked;
} spinlock_t;
void spin_lock(spinlock_t *l);
bool spin_trylock_bounded(spinlock_t *l, u64 tries);
void spin_unlock(spinlock_t *l);

/* bootinfo.c: the PVH start_info or multiboot information, copied out of low memory at boot. */
struct memmap_entry {
	u64 addr;
	u64 size;
	u32 type;
	u32 reserved;
};
#define MEMMAP_RAM 1
#define MEMMAP_MAX 128
#define BOOT_MODULES_MAX 4
#define BOOT_NAME_MAX 128
struct boot_module {
	u64 addr;
	u64 size;
	char name[BOOT_NAME_MAX]; /* the module's command line, truncated */
};
struct boot_info {
	bool valid;                /* start_info magic, or the multiboot magic in EAX, matched */
	u32 protocol;              /* BOOT_PVH or BOOT_MULTIBOOT */
	u32 magic;                 /* EAX at a multiboot entry */
	u32 version;               /* PVH start_info version */
	u32 flags;                 /* PVH start_info flags, or the multiboot info flags */
	u32 memmap_entries;        /* as given by the VMM */
	u32 memmap_count;          /* entries copied (≤ MEMMAP_MAX) */
	struct memmap_entry memmap[MEMMAP_MAX];
	u64 ram_total;             /* bytes of type-1 RAM */
	u64 ram_top;               /* highest end of type-1 RAM */
	bool has_mem;              /* multiboot mem_lower/mem_upper given */
	u32 mem_lower, mem_upper;  /* KiB */
	char argv0[BOOT_NAME_MAX]; /* multiboot: the command line's first word */
	u32 modules;               /* as given */
	struct boot_module module[BOOT_MODULES_MAX];
};
extern struct boot_info boot;
void bootinfo_init(u32 info_paddr, u32 protocol, u32 magic);
const char *boot_protocol_name(void);

/* fwcfg.c: QEMU's fw_cfg, legacy port interface (selector 0x510, data 0x511). */
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MAX_CPUS 0x0f
void fwcfg_read(u16 key, void *buf, size_t n);

/* cmdline.c */
void cmdline_init(u64 paddr);
const char *cmdline(void);
bool cmdline_truncated(void);
bool cmdline_value(const char *key, const char **val, size_t *len);

/* paging.c */
bool map_identity_2m(u64 start, u64 end, const char **why);
bool is_mapped(u64 addr);

/* time.c */
void time_init(void);
u64 tsc_khz(void);          /* 0 when the hypervisor does not tell */
u64 tsc_khz_or_guess(void); /* for timeouts only */
u64 cycles_from_us(u64 us);
void delay_us(u64 us);

/* mp.c */
struct mp_cpu {
	u8 apic_id;
	bool bsp;
};
int mp_cpus(struct mp_cpu *out, int max, const char **why);
int cpus_override(struct mp_cpu *out, int max, const char **why);

/* apic.c */
void lapic_enable(void);
u32 lapic_id(void);
void lapic_eoi(void);
bool lapic_send_ipi(u32 apic_id, u32 icr_low);
void lapic_timer_periodic(u8 vector, u32 count);
void lapic_timer_stop(void);
u32 lapic_timer_current(void);

/* ioapic.c */
void ioapic_route(u32 pin, u8 vector, u32 apic_id);
void ioapic_mask(u32 pin);
u32 ioapic_pins(void);
void ioapic_set_masked(u32 pin, bool masked);

/* idt.c */
struct trap_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss;
};
typedef bool (*trap_handler_t)(struct trap_frame *f);
void idt_init(void);
void idt_load(void);
trap_handler_t trap_set_handler(u8 vector, trap_handler_t h);

/* smp.c */
void ap_main(void);
extern volatile u32 ap_next_slot;
extern volatile u32 ap_checked_in;
extern volatile u32 ap_failures;
extern volatile u32 ap_fault_next;

/* main.c */
extern const char *current_test;
void finish(int failed) __attribute__((noreturn));
void halt_forever(void) __attribute__((noreturn));

/* tests: each returns NULL on success or the reason it failed. */
const char *fail_reason(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
const char *test_serial(void);
const char *test_cmdline(void);
const char *test_memory(void);
const char *test_exceptions(void);
const char *test_smp(void);
const char *test_irqfd(void);
const char *test_pio(void);
const char *test_mmio(void);
const char *test_int3(void);
const char *test_intn(void);
const char *test_fwait(void);
const char *test_clacstac(void);
const char *test_fail(void);
const char *test_apfail(void);
const char *test_shutdown(void);
const char *test_bootinfo(void);
const char *test_fwcfg(void);
const char *test_pctestdev(void);
/* tests_blk.c: need virtio_mmio.device= disks, so not in test=all; test=blk runs BLK_CASES. */
#define BLK_CASES "blk_rw,blk_flush,blk_id,blk_discard,blk_zeroes,blk_ro,blk_multiseg,blk_indirect,blk_qd64,blk_reset"
const char *test_blk_rw(void);
const char *test_blk_flush(void);
const char *test_blk_id(void);
const char *test_blk_discard(void);
const char *test_blk_zeroes(void);
const char *test_blk_ro(void);
const char *test_blk_multiseg(void);
const char *test_blk_indirect(void);
const char *test_blk_qd64(void);
const char *test_blk_reset(void);
const char *test_blk_perf(void);
const char *test_blk_crash(void);
/* tests_host.c: read or driven by host tools (vmm check, the API's SendCtrlAltDel); run only by name. */
const char *test_speed(void);
const char *test_ctrlaltdel(void);
const char *test_blk_resize(void);
/* tests_blk_hostile.c: test=blk_hostile runs BLK_HOSTILE_CASES (a writable disk and a second disk). */
#define BLK_HOSTILE_CASES                                                                         \
	"blk_h_ring,blk_h_chain,blk_h_indirect,blk_h_noindirect,blk_h_memory,blk_h_status,"      \
	"blk_h_header,blk_h_bounds,blk_h_unsupp,blk_h_ro,blk_h_layout,blk_h_liveregs,"           \
	"blk_h_nofeatok,blk_h_flood"
const char *test_blk_h_ring(void);
const char *test_blk_h_chain(void);
const char *test_blk_h_indirect(void);
const char *test_blk_h_noindirect(void);
const char *test_blk_h_memory(void);
const char *test_blk_h_status(void);
const char *test_blk_h_header(void);
const char *test_blk_h_bounds(void);
const char *test_blk_h_unsupp(void);
const char *test_blk_h_ro(void);
const char *test_blk_h_layout(void);
const char *test_blk_h_liveregs(void);
const char *test_blk_h_nofeatok(void);
const char *test_blk_h_flood(void);
const char *test_none(void);
const char *test_latency(void);
const char *test_idle(void);

/* boot.S / traps.S / linker.ld symbols */
extern char ap_tramp_start[], ap_tramp_end[];
extern char __image_start[], __image_end[];
extern u64 pml4[512], pdpt_low[512];
extern char probe_read_insn[], probe_read_fixup[], ud2_insn[];
u64 probe_read(u64 addr, volatile int *faulted);
void ud2_probe(void);
/* repair_sites.S: one function and two labels per repaired instruction. */
u32 repair_int3(void);
u32 repair_intn(void);
u32 repair_fwait(void);
u64 repair_stac(void);
u64 repair_clac(void);
extern char repair_int3_after[], repair_intn_after[];
extern char repair_stac_site[], repair_stac_after[], repair_clac_site[], repair_clac_after[];

#include "io.h"

#endif /* __ASSEMBLER__ */
#endif
