/* The chat demo's parts: the room (the set of connected browsers, safe from any thread), the
 * messages it sends (JSON lines), and the page it serves. */
#ifndef WSC_EXAMPLES_CHAT_H
#define WSC_EXAMPLES_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "wsc.h"

enum {
    CHAT_NAME_MAX = 32,   /* bytes of a name */
    CHAT_TEXT_MAX = 1024, /* bytes of one chat line: the server's max_message_size */
};

/* The room: every browser that joined. Thread-safety: every function, any thread. */
typedef struct chat_room chat_room;

chat_room *chat_room_new(void);
void chat_room_free(chat_room *room);
/* Adds conn; returns how many are in the room with it, 0 when out of memory. */
size_t chat_room_join(chat_room *room, wsc_conn *conn);
/* Removes conn (before its close callback returns: then nothing writes to it any more); returns
 * how many are left. */
size_t chat_room_leave(chat_room *room, wsc_conn *conn);
/* Frames json once and writes the same bytes to everyone in the room. A member that stopped
 * reading does not hold up the others: its writes queue, and past max_buffered it is closed. */
void chat_room_send(chat_room *room, const char *json, size_t len);

/* JSON events, written into out (cap bytes; CHAT_EVENT_MAX always suffices). Return the length. */
enum { CHAT_EVENT_MAX = 6 * (CHAT_NAME_MAX + CHAT_TEXT_MAX) + 128 };
size_t chat_event_message(char *out, size_t cap, const char *from, const char *text, size_t len);
size_t chat_event_presence(char *out, size_t cap, const char *kind, const char *who, size_t online);

/* True for a name worth showing: 1..CHAT_NAME_MAX bytes of UTF-8 without control characters. */
bool chat_name_ok(const char *name, size_t len);

/* The page (index.html), served at "/". */
extern const char chat_page[];
extern const size_t chat_page_len;

#endif
