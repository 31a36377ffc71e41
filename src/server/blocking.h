/* Blocking mode (websocket.zig's mode for platforms without an event loop, selectable here with
 * cfg.blocking): one thread per connection on a blocking socket. See server.h. */
#ifndef WSC_SERVER_BLOCKING_H
#define WSC_SERVER_BLOCKING_H

#include "server/server.h"

#endif
