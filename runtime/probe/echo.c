/* Prints its arguments separated by spaces, then a newline, like echo. No C library and no dynamic
   loader: a static binary of a few hundred bytes of code that runs on any x86_64 Linux kernel. */

static long syscall3(long number, long a, long b, long c) {
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return result;
}

static void put(const char *text, long length) {
    while (length > 0) {
        long written = syscall3(1 /* write */, 1, (long)text, length);
        if (written <= 0) syscall3(60 /* exit */, 1, 0, 0);
        text += written;
        length -= written;
    }
}

/* The kernel starts a process with argc, then argv, on the stack. */
__attribute__((used)) static void start(long *stack) {
    long argc = stack[0];
    char **argv = (char **)(stack + 1);
    for (long i = 1; i < argc; i++) {
        long length = 0;
        while (argv[i][length]) length++;
        put(argv[i], length);
        if (i + 1 < argc) put(" ", 1);
    }
    put("\n", 1);
    syscall3(60 /* exit */, 0, 0, 0);
}

__asm__(".globl _start\n_start:\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall start\n");
