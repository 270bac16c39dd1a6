/*
 * PVH entry for the actorvm test guests.
 *
 * Entry contract (PVH / XEN_ELFNOTE_PHYS32_ENTRY): 32-bit protected mode,
 * paging off, flat segments, interrupts off, no usable stack,
 * %ebx = physical address of struct hvm_start_info.
 *
 * We switch to 64-bit long mode with identity-mapped 2 MiB pages covering
 * 0..4 GiB and call guest_start(start_info), which runs guest_main().
 * Guest code may run under a slow instruction emulator, so the only loop
 * here is the 2048-entry page-directory fill.
 *
 * Requires the loader to zero the .bss part of the data PT_LOAD
 * (p_memsz > p_filesz), as any ELF loader must: the page tables rely on it.
 */

#define PTE_P     0x001
#define PTE_W     0x002
#define PTE_PWT   0x008
#define PTE_PCD   0x010
#define PTE_PS    0x080   /* 2 MiB page in a page-directory entry */

#define CR0_PE    0x00000001
#define CR0_PG    0x80000000
#define CR4_PAE   0x00000020
#define MSR_EFER  0xC0000080
#define EFER_LME  0x00000100

#define SEL_CODE64 0x08
#define SEL_DATA   0x10

#define STACK_SIZE 16384

/* ---- PVH ELF note: name "Xen", type 18 = XEN_ELFNOTE_PHYS32_ENTRY ---- */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                 /* namesz: "Xen\0" */
	.long 4                 /* descsz: 32-bit entry address */
	.long 18                /* type: XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start32       /* desc */

/* ---- 32-bit entry ---- */
	.section .text.entry, "ax", @progbits
	.code32
	.globl pvh_start32
	.type pvh_start32, @function
pvh_start32:
	cli
	cld
	movl %ebx, %edi                 /* start_info; becomes guest_start's arg */

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories (1 GiB each).
	 * Upper halves of the entries are already zero (.bss). */
	movl $(pdpt + PTE_P + PTE_W), pml4
	movl $(pd + 0x0000 + PTE_P + PTE_W), pdpt + 0
	movl $(pd + 0x1000 + PTE_P + PTE_W), pdpt + 8
	movl $(pd + 0x2000 + PTE_P + PTE_W), pdpt + 16
	movl $(pd + 0x3000 + PTE_P + PTE_W), pdpt + 24

	/* 2048 x 2 MiB identity pages. From 3 GiB (entry 1536) on we are in the
	 * MMIO hole: make those uncached (PCD|PWT). */
	xorl %ecx, %ecx
	movl $(PTE_P + PTE_W + PTE_PS), %eax
1:	movl %eax, pd(,%ecx,8)
	addl $0x200000, %eax
	incl %ecx
	cmpl $1536, %ecx
	jne 2f
	orl $(PTE_PCD + PTE_PWT), %eax
2:	cmpl $2048, %ecx
	jne 1b

	lgdt gdt_ptr

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4

	movl $pml4, %eax
	movl %eax, %cr3

	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr

	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0                 /* now in compatibility mode */

	ljmp $SEL_CODE64, $start64

/* ---- 64-bit ---- */
	.code64
start64:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movq $stack_top, %rsp
	movl %edi, %edi                 /* zero-extend start_info pointer */
	call guest_start                /* guest_exit(guest_main(si)) */
3:	cli
	hlt
	jmp 3b
	.size pvh_start32, . - pvh_start32

/* ---- GDT (read-only; accessed bits preset so the CPU never writes it) ---- */
	.section .rodata
	.balign 8
gdt:
	.quad 0                         /* null */
	.quad 0x00AF9B000000FFFF        /* 0x08: 64-bit code, DPL0, L=1 */
	.quad 0x00CF93000000FFFF        /* 0x10: flat data, DPL0 */
gdt_end:
	.balign 2
gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt

/* ---- page tables and boot stack (placed first in .bss by guest.ld) ---- */
	.section .bss.boot, "aw", @nobits
	.balign 4096
pml4:	.skip 4096
pdpt:	.skip 4096
pd:	.skip 4 * 4096
	.balign 16
stack_bottom:
	.skip STACK_SIZE
stack_top:
