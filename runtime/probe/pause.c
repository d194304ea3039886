/* Waits until it is killed, like the `pause` of a pod: the container that must outlive a daemon restart
   (live-restore). No C library, like echo.c. */

__attribute__((used)) static void start(void) {
    for (;;) {
        long result;
        __asm__ volatile("syscall" : "=a"(result) : "a"(34 /* pause */) : "rcx", "r11", "memory");
    }
}

__asm__(".globl _start\n_start:\n\tand $-16, %rsp\n\tcall start\n");
