/*
 * floor.c: the least a VMM must do to run the tiny test kernel on /dev/kvm,
 * as a measuring stick for scripts/bench (the "limit" column). It creates a
 * VM with an in-kernel irqchip (the idle case needs the LAPIC timer), maps
 * the guest's RAM, loads a PVH ELF, enters it in 32-bit protected mode and
 * handles exits with a plain switch: COM1 output to stdout, COM1 input from
 * stdin (with its receive interrupt, IRQ 4, raised when stdin has data and
 * the guest enabled it), the test-exit port, the i8042 reset, and all ones
 * for every other read. No threads, no device model, no allocation after
 * setup. Input arrives as SIGIO, which makes KVM_RUN return through
 * kvm_run.immediate_exit.
 *
 *   floor [-m MIB] KERNEL [CMDLINE]
 *
 * Exit status: the guest's test-exit value v as vmm --test-exit maps it
 * (0 -> 0, v -> 2v+1, at most 255); 0 after an i8042 reset; 1 when the
 * guest crashes or setup fails, with the reason on stderr. Just after the
 * first KVM_RUN returns it prints "floor: first KVM_RUN at SEC.NSEC"
 * (CLOCK_REALTIME, taken just before that call) on stderr.
 *
 * Built by scripts/bench with the host gcc; Linux x86-64 only.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Guest-physical layout, all below the kernel at 1 MiB. */
#define GDT_ADDR 0x500
#define START_INFO_ADDR 0x6000
#define MEMMAP_ADDR 0x6040
#define CMDLINE_ADDR 0x20000
#define CMDLINE_MAX 0x10000
#define EBDA_START 0x9fc00
#define HIGH_MEM 0x100000
#define MMIO_HOLE 0xc0000000ULL
#define TSS_ADDR 0xfffbd000

#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_TSS 0x18

/* Ports the tiny kernel uses (docs/guest.md). */
#define COM1 0x3f8
#define COM1_IRQ 4
#define UART_IER 1
#define UART_MCR 4
#define UART_LSR 5
#define IER_RDA 0x01
#define MCR_OUT2 0x08
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define PORT_TEST_EXIT 0xf4
#define PORT_I8042_CMD 0x64

/* PVH (Xen's public/arch-x86/hvm/start_info.h and elfnote.h). */
#define PVH_MAGIC 0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("floor: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);
	if (r < 0)
		die("%s: %s", what, strerror(errno));
	return r;
}

/* guest returns a host pointer to [gpa, gpa+n) or dies if it is not RAM. */
static uint8_t *ram;
static uint64_t ram_size;

static uint8_t *guest(uint64_t gpa, uint64_t n)
{
	if (gpa > ram_size || n > ram_size - gpa)
		die("guest range %#llx+%#llx is outside %llu bytes of RAM", (unsigned long long)gpa,
		    (unsigned long long)n, (unsigned long long)ram_size);
	return ram + gpa;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		die("%s: empty or unreadable", path);
	uint8_t *b = malloc((size_t)st.st_size);
	if (!b)
		die("%s: out of memory", path);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
		if (r <= 0)
			die("%s: short read", path);
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return b;
}

/* load_pvh copies the ELF's PT_LOAD segments into RAM and returns the PVH entry. */
static uint32_t load_pvh(const uint8_t *elf, size_t len)
{
	const Elf64_Ehdr *eh = (const void *)elf;
	if (len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64)
		die("kernel is not an x86-64 ELF");
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
		die("kernel's program headers are outside the file");
	uint32_t entry = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, elf + eh->e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			die("segment %d is outside the file", i);
		if (ph.p_type == PT_LOAD) {
			if (ph.p_filesz > ph.p_memsz)
				die("segment %d: file size above memory size", i);
			/* Checks the whole memsz; fresh anonymous RAM already reads as zero. */
			guest(ph.p_paddr, ph.p_memsz);
			memcpy(guest(ph.p_paddr, ph.p_filesz), elf + ph.p_offset, ph.p_filesz);
		} else if (ph.p_type == PT_NOTE) {
			const uint8_t *p = elf + ph.p_offset, *end = p + ph.p_filesz;
			while (end - p >= 12) {
				uint32_t namesz, descsz, type;
				memcpy(&namesz, p, 4);
				memcpy(&descsz, p + 4, 4);
				memcpy(&type, p + 8, 4);
				uint64_t nlen = (namesz + 3ULL) & ~3ULL, dlen = (descsz + 3ULL) & ~3ULL;
				if (nlen + dlen > (uint64_t)(end - p - 12))
					break;
				if (namesz == 4 && memcmp(p + 12, "Xen", 4) == 0 &&
				    type == XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4)
					memcpy(&entry, p + 12 + nlen, 4);
				p += 12 + nlen + dlen;
			}
		}
	}
	if (!entry)
		die("kernel has no PVH entry note (Xen, type 18)");
	return entry;
}

/* write_boot_info lays out the GDT, hvm_start_info, its memmap and the command line. */
static void write_boot_info(const char *cmdline)
{
	static const uint64_t gdt[] = {
		0,
		0x00cf9b000000ffffULL, /* 0x08: flat 32-bit code */
		0x00cf93000000ffffULL, /* 0x10: flat data */
		0x00008b0000000067ULL, /* 0x18: 32-bit busy TSS at 0 */
	};
	memcpy(guest(GDT_ADDR, sizeof gdt), gdt, sizeof gdt);

	size_t n = strlen(cmdline);
	if (n >= CMDLINE_MAX)
		die("command line is %zu bytes, at most %d", n, CMDLINE_MAX - 1);
	memcpy(guest(CMDLINE_ADDR, n + 1), cmdline, n + 1);

	struct {
		uint64_t addr, size;
		uint32_t type, reserved;
	} memmap[2] = {
		{0, EBDA_START, 1, 0},
		{HIGH_MEM, ram_size - HIGH_MEM, 1, 0},
	};
	memcpy(guest(MEMMAP_ADDR, sizeof memmap), memmap, sizeof memmap);

	uint8_t info[56] = {0};
	uint32_t magic = PVH_MAGIC, version = 1, entries = 2;
	uint64_t cmd = CMDLINE_ADDR, mm = MEMMAP_ADDR;
	memcpy(info + 0, &magic, 4);
	memcpy(info + 4, &version, 4);
	memcpy(info + 24, &cmd, 8);
	memcpy(info + 40, &mm, 8);
	memcpy(info + 48, &entries, 4);
	memcpy(guest(START_INFO_ADDR, sizeof info), info, sizeof info);
}

/* set_cpuid passes on what KVM supports and adds the TSC frequency leaf the kernel reads. */
static void set_cpuid(int sys, int vcpu)
{
	int max = 256;
	struct kvm_cpuid2 *c = calloc(1, sizeof *c + (max + 1) * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		die("out of memory");
	c->nent = max;
	xioctl(sys, KVM_GET_SUPPORTED_CPUID, c, "KVM_GET_SUPPORTED_CPUID");
	int khz = ioctl(vcpu, KVM_GET_TSC_KHZ, 0);
	if (khz > 0) {
		for (uint32_t i = 0; i < c->nent; i++)
			if (c->entries[i].function == 0x40000000 && c->entries[i].eax < 0x40000010)
				c->entries[i].eax = 0x40000010;
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];
		memset(e, 0, sizeof *e);
		e->function = 0x40000010;
		e->eax = (uint32_t)khz;
	}
	xioctl(vcpu, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
}

/* set_pvh_state enters flat 32-bit protected mode at entry with EBX = start_info. */
static void set_pvh_state(int vcpu, uint32_t entry)
{
	struct kvm_sregs s;
	xioctl(vcpu, KVM_GET_SREGS, &s, "KVM_GET_SREGS");
	struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = SEL_CODE32,
				   .type = 11, .present = 1, .s = 1, .db = 1, .g = 1};
	struct kvm_segment data = code;
	data.selector = SEL_DATA;
	data.type = 3;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct kvm_segment){.base = 0, .limit = 0x67, .selector = SEL_TSS, .type = 11,
				    .present = 1};
	s.gdt.base = GDT_ADDR;
	s.gdt.limit = 4 * 8 - 1;
	s.cr0 = 0x11; /* PE | ET */
	s.cr4 = 0;
	s.efer = 0;
	xioctl(vcpu, KVM_SET_SREGS, &s, "KVM_SET_SREGS");
	struct kvm_regs r = {.rip = entry, .rbx = START_INFO_ADDR, .rflags = 2};
	xioctl(vcpu, KVM_SET_REGS, &r, "KVM_SET_REGS");
}

/* The UART state the receive interrupt depends on. */
static uint8_t uart_ier, uart_mcr;
static int irq_level = -1;
static int vm_fd;
static struct kvm_run *run;

/* on_sigio makes a KVM_RUN in progress (or about to start) return EINTR. */
static void on_sigio(int sig)
{
	(void)sig;
	run->immediate_exit = 1;
}

/* stdin_ready reports whether a read of stdin would not block. */
static int stdin_ready(void)
{
	struct pollfd p = {.fd = 0, .events = POLLIN};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* update_irq drives IRQ 4 as a PC's 8250 does: data waiting, the guest
 * asked for the receive interrupt, and OUT2 set. */
static void update_irq(void)
{
	int level = (uart_ier & IER_RDA) && (uart_mcr & MCR_OUT2) && stdin_ready();
	if (level == irq_level)
		return;
	struct kvm_irq_level l = {.irq = COM1_IRQ, .level = (uint32_t)level};
	xioctl(vm_fd, KVM_IRQ_LINE, &l, "KVM_IRQ_LINE");
	irq_level = level;
}

/* pio handles one port access; it returns -1 to go on, else the exit status. */
static int pio(uint16_t port, int out, uint8_t *data, uint32_t size)
{
	if (out) {
		if (port == COM1) {
			if (write(1, data, 1) < 0) {
				/* The reader went away; keep running like a UART with no cable. */
			}
		} else if (port == PORT_TEST_EXIT && size == 4) {
			uint32_t v;
			memcpy(&v, data, 4);
			return v == 0 ? 0 : (v > 127 ? 255 : (int)(2 * v + 1));
		} else if (port == PORT_I8042_CMD && data[0] == 0xfe) {
			return 0;
		} else if (port == COM1 + UART_IER) {
			uart_ier = data[0];
			update_irq();
		} else if (port == COM1 + UART_MCR) {
			uart_mcr = data[0];
			update_irq();
		}
		return -1;
	}
	memset(data, 0xff, size);
	if (port == COM1 + UART_LSR) {
		data[0] = LSR_THRE | LSR_TEMT | (stdin_ready() ? LSR_DR : 0);
	} else if (port == COM1) {
		data[0] = 0;
		if (stdin_ready() && read(0, data, 1) != 1)
			data[0] = 0;
		update_irq();
	} else if (port == COM1 + UART_IER) {
		data[0] = uart_ier;
	} else if (port == COM1 + UART_MCR) {
		data[0] = uart_mcr;
	} else if (port > COM1 && port < COM1 + 8) {
		data[0] = 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	uint64_t mib = 256;
	int opt;
	while ((opt = getopt(argc, argv, "m:")) != -1) {
		if (opt == 'm' && (mib = strtoull(optarg, NULL, 10)) >= 16 && mib <= 3072)
			continue;
		fprintf(stderr, "usage: floor [-m MIB (16-3072)] KERNEL [CMDLINE]\n");
		return 2;
	}
	if (optind >= argc || argc - optind > 2) {
		fprintf(stderr, "usage: floor [-m MIB (16-3072)] KERNEL [CMDLINE]\n");
		return 2;
	}
	const char *cmdline = optind + 1 < argc ? argv[optind + 1] : "";
	size_t elf_len;
	uint8_t *elf = read_file(argv[optind], &elf_len);

	int sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (sys < 0)
		die("/dev/kvm: %s", strerror(errno));
	int vm = vm_fd = xioctl(sys, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	xioctl(vm, KVM_SET_TSS_ADDR, (void *)(uintptr_t)TSS_ADDR, "KVM_SET_TSS_ADDR");

	ram_size = mib << 20;
	ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (ram == MAP_FAILED)
		die("map %llu MiB of guest RAM: %s", (unsigned long long)mib, strerror(errno));
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = ram_size,
		.userspace_addr = (uintptr_t)ram};
	xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
	/*
	 * After the memory slot: on kvm_pvm, registering the slot once the
	 * irqchip exists took about 8 ms instead of 0.4 ms.
	 */
	xioctl(vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");

	uint32_t entry = load_pvh(elf, elf_len);
	free(elf);
	write_boot_info(cmdline);

	int vcpu = xioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	int run_size = xioctl(sys, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("map kvm_run: %s", strerror(errno));
	set_cpuid(sys, vcpu);
	set_pvh_state(vcpu, entry);

	/* SIGIO when stdin (a pipe or terminal) becomes readable. */
	struct sigaction sa = {.sa_handler = on_sigio};
	sigaction(SIGIO, &sa, NULL);
	if (fcntl(0, F_SETOWN, getpid()) == 0)
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_ASYNC);

	struct timespec first;
	clock_gettime(CLOCK_REALTIME, &first);
	for (int reported = 0;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				update_irq();
				continue;
			}
			die("KVM_RUN: %s", strerror(errno));
		}
		if (!reported) {
			fprintf(stderr, "floor: first KVM_RUN at %lld.%09ld\n", (long long)first.tv_sec,
				first.tv_nsec);
			reported = 1;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			if (run->io.data_offset + (uint64_t)run->io.size * run->io.count > (uint64_t)run_size)
				die("port I/O data outside kvm_run");
			for (uint32_t i = 0; i < run->io.count; i++) {
				int st = pio(run->io.port, run->io.direction == KVM_EXIT_IO_OUT,
					     data + i * run->io.size, run->io.size);
				if (st >= 0)
					return st;
			}
			break;
		}
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, sizeof run->mmio.data);
			break;
		case KVM_EXIT_SHUTDOWN:
			die("guest triple-faulted");
		case KVM_EXIT_INTERNAL_ERROR:
			die("KVM internal error, suberror %u", run->internal.suberror);
		case KVM_EXIT_FAIL_ENTRY:
			die("KVM could not enter the guest (reason %#llx)",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		default:
			die("unexpected exit reason %u", run->exit_reason);
		}
	}
}
