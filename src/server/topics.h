/* Topics: a server's publish/subscribe registry (wsc_conn_subscribe, wsc_server_publish).
 *
 * One registry per server, guarded by one mutex (`mu`): a hash table of topics by name (O(1)
 * lookup), each topic an array of its subscriptions, each connection a list of its own (so that
 * its end drops them all). A subscription is one small node (struct wsc__sub) plus its slot in the
 * topic's array: a few dozen bytes.
 *
 * A publish frames the message once, then, under the mutex, takes a snapshot of the topic's
 * subscribers with each connection retained, and writes the same frame bytes to each outside the
 * mutex: a write may close its connection (1008 past max_buffered), and the close path takes the
 * mutex to drop the subscriptions. The frame is refcounted (conn/shared.h): sent straight from it,
 * and what a subscriber's socket does not take is queued as a reference, not a copy. Each write
 * follows the connection's write rules, so max_buffered, the 1008 policy and the per-thread order
 * of writes hold for publishes as for any other write.
 *
 * A cluster module (cluster/redis.c) hooks in: it hears when a topic gets its first subscriber and
 * loses its last (to subscribe upstream only while someone listens here), and relays every local
 * publish. The hooks are called with the mutex held, so they must only queue work. */
#ifndef WSC_SERVER_TOPICS_H
#define WSC_SERVER_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#include "wsc.h"

typedef struct wsc__topics wsc__topics;

typedef struct wsc__topics_hooks {
    void *arg;
    /* A topic got its first local subscriber / lost its last one. */
    void (*first)(void *arg, const char *topic, size_t len);
    void (*last)(void *arg, const char *topic, size_t len);
    /* A local publish, to hand to the other servers. Returns false when it could not be handed
       over (it then reached local subscribers only). */
    bool (*relay)(void *arg, const char *topic, size_t len, wsc_msg_type type, const void *data,
                  size_t data_len);
} wsc__topics_hooks;

/* NULL when out of memory. */
wsc__topics *wsc__topics_new(void);
/* Frees a registry whose connections have all ended. */
void wsc__topics_free(wsc__topics *t);
/* Delivers to the topic's local subscribers but `except` (NULL: all); relays it when relay is
   true and a cluster is attached. Returns the number of subscribers that accepted it, or a WSC_E*
   code: WSC_ENORELAY when it was delivered here but could not be relayed. Any thread. */
int wsc__topics_publish(wsc__topics *t, const char *topic, size_t len, wsc_msg_type type,
                        const void *data, size_t data_len, wsc_conn *except, bool relay);
/* The connection ended: drops its subscriptions and refuses later ones. [loop] of c. */
void wsc__topics_conn_end(wsc__topics *t, wsc_conn *c);
/* Installs (or, with NULL, removes) the cluster hooks. Returns WSC_ESTATE when some are installed
   already. Any thread. */
int wsc__topics_set_hooks(wsc__topics *t, const wsc__topics_hooks *h);
/* Calls fn for every topic that has local subscribers, with the mutex held (the cluster's
   resubscription after a reconnect); `locked` runs last, still under the mutex. */
void wsc__topics_each(wsc__topics *t, void (*fn)(void *arg, const char *topic, size_t len),
                      void (*locked)(void *arg), void *arg);

#endif
