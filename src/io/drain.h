/* Reading away what a peer sent and nobody will read, just before closing its socket. */
#ifndef WSC_IO_DRAIN_H
#define WSC_IO_DRAIN_H

#include <sys/socket.h>
#include <sys/types.h>

/* close() on a socket with unread input sends a reset instead of a FIN, and the reset makes the
   peer's kernel throw away what it had not delivered yet: our answer to its close frame, the last
   messages it was owed. Bytes a peer sent after its close frame (or while we drained towards our
   close) are garbage by then; discarding them keeps the FIN. Bounded: a peer that keeps sending
   past this gets its reset. */
static inline void wsc__socket_drain_input(int fd)
{
    char buf[4096];
    for (int i = 0; i < 64; i++)
        if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0)
            return;
}

#endif
