/* hello: one line on COM1, POST codes around it, exit status 0. */
#include "common/lib.h"

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	post_code(0x01);
	serial_puts("hello from guest\n");
	post_code(0x02);
	return 0;
}
