/* The broadcast server's handler: every message goes to every connection on the same request path
 * (the query is not part of it), the sender included. */
#ifndef WSC_TOOL_ROOMS_H
#define WSC_TOOL_ROOMS_H

#include "wsc.h"

typedef struct rooms rooms;

/* The set of rooms, to pass as the app argument of wsc_server_listen. NULL when out of memory. */
rooms *rooms_new(void);
/* The server whose topics the rooms are (before it listens). */
void rooms_bind(rooms *r, wsc_server *srv);
/* Frees the rooms of a server that has stopped (every close callback has run). NULL: no-op. */
void rooms_free(rooms *r);
/* Sets the callbacks that join, broadcast and leave. */
void rooms_handler(wsc_handler *h);

#endif
