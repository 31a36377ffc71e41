/* Thread-local variables with the initial-exec model.
 *
 * The library's objects are compiled position-independent (they go into the shared library too),
 * and there a plain _Thread_local access is a call to __tls_get_addr. When the static library goes
 * into a program the linker turns that call into a single %fs load, but the compiler has already
 * saved every live register around it: on the write path that was a stack frame and a dozen moves
 * per message. Initial-exec is one load in every case. It places the variables in the static TLS
 * block, so a library using it should keep them small: glibc reserves surplus room there for
 * libraries loaded later with dlopen, and the library's (under 200 bytes: a pointer, a write batch
 * and the mask key generator) fit in it. */
#ifndef WSC_UTIL_THREAD_LOCAL_H
#define WSC_UTIL_THREAD_LOCAL_H

#define WSC__THREAD_LOCAL _Thread_local __attribute__((tls_model("initial-exec")))

#endif
