/* The program fork_exec and the exec self-test run: it exits with its argument. */
#include "ulib.h"

int main(uint64_t arg) { return (int)arg; }
