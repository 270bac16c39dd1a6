/*
 * Interrupts for the test guests: an IDT of 48 vectors (exceptions 0-31,
 * the PICs' vectors 0x20-0x2F), the 8259A pair, and the LAPIC's LINT0 as
 * the PICs' virtual wire. A guest that includes this defines
 * isr_dispatch(), called with the vector number for every interrupt and
 * exception; it sends the PIC its EOI itself.
 */
#ifndef GUEST_IRQ_H
#define GUEST_IRQ_H

#include "lib.h"

#define PIC1_CMD        0x20
#define PIC1_DATA       0x21
#define PIC2_CMD        0xA0
#define PIC2_DATA       0xA1
#define PIC_EOI         0x20
#define PIC1_BASE       0x20
#define PIC2_BASE       0x28
#define VEC_SPURIOUS    (PIC1_BASE + 7)          /* master's spurious IRQ 7 */
#define IRQ_VECTORS     48                       /* 0..0x2F */

/* Defined by the guest. */
void isr_dispatch(uint64_t vector);

void idt_init(void);
/* Programs both PICs (edge, vectors 0x20 and 0x28) with only the master's IRQs in unmasked_irqs open. */
void pic_init(uint8_t unmasked_irqs);
/* Makes LINT0 an unmasked ExtINT so that the PICs' INTR reaches the CPU. */
void lapic_virtual_wire(void);

/* Prints what, then n, then exits with status. */
__attribute__((noreturn)) void fail(const char *what, uint64_t n, int status);

#endif
