/* The room: a set of connections under one mutex, and the JSON events sent to it. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

struct chat_room {
    pthread_mutex_t mu;
    wsc_conn **members;
    size_t len, cap;
};

chat_room *chat_room_new(void)
{
    chat_room *room = calloc(1, sizeof *room);
    if (room)
        pthread_mutex_init(&room->mu, NULL);
    return room;
}

void chat_room_free(chat_room *room)
{
    if (!room)
        return;
    pthread_mutex_destroy(&room->mu);
    free(room->members);
    free(room);
}

size_t chat_room_join(chat_room *room, wsc_conn *conn)
{
    size_t n = 0;
    pthread_mutex_lock(&room->mu);
    if (room->len == room->cap) {
        size_t cap = room->cap ? 2 * room->cap : 16;
        wsc_conn **m = realloc(room->members, cap * sizeof *m);
        if (m) {
            room->members = m;
            room->cap = cap;
        }
    }
    if (room->len < room->cap) {
        room->members[room->len++] = conn;
        n = room->len;
    }
    pthread_mutex_unlock(&room->mu);
    return n;
}

size_t chat_room_leave(chat_room *room, wsc_conn *conn)
{
    pthread_mutex_lock(&room->mu);
    for (size_t i = 0; i < room->len; i++) {
        if (room->members[i] == conn) {
            room->members[i] = room->members[--room->len];
            break;
        }
    }
    size_t n = room->len;
    pthread_mutex_unlock(&room->mu);
    return n;
}

void chat_room_send(chat_room *room, const char *json, size_t len)
{
    wsc_framed frame;
    if (wsc_frame_new(&frame, WSC_TEXT, json, len) != 0)
        return;
    /* Writes never block (what a socket does not take is queued), so holding the lock is short;
       holding it is what keeps a member from leaving, and its memory from going, mid-write. */
    pthread_mutex_lock(&room->mu);
    for (size_t i = 0; i < room->len; i++)
        (void)wsc_conn_write_framed(room->members[i], frame.data, frame.len);
    pthread_mutex_unlock(&room->mu);
    wsc_frame_free(&frame);
}

/* ---- events ---- */

typedef struct {
    char *p;
    size_t cap, len;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->len + n < o->cap) {
        memcpy(o->p + o->len, s, n);
        o->len += n;
    }
}

/* A JSON string: quotes, backslashes and control characters escaped (RFC 8259 7); the bytes are
   UTF-8 already (text messages are validated by the server, names by chat_name_ok). */
static void put_json(out *o, const char *s, size_t n)
{
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(o, esc, 6);
        } else {
            put(o, s + i, 1);
        }
    }
    put(o, "\"", 1);
}

size_t chat_event_message(char *buf, size_t cap, const char *from, const char *text, size_t len)
{
    out o = {buf, cap, 0};
    put(&o, "{\"type\":\"message\",\"from\":", 25);
    put_json(&o, from, strlen(from));
    put(&o, ",\"text\":", 8);
    put_json(&o, text, len);
    put(&o, "}", 1);
    return o.len;
}

size_t chat_event_presence(char *buf, size_t cap, const char *kind, const char *who, size_t online)
{
    out o = {buf, cap, 0};
    char num[32];
    put(&o, "{\"type\":", 8);
    put_json(&o, kind, strlen(kind));
    put(&o, ",\"from\":", 8);
    put_json(&o, who, strlen(who));
    put(&o, num, (size_t)snprintf(num, sizeof num, ",\"online\":%zu}", online));
    return o.len;
}

/* ---- names ---- */

bool chat_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > CHAT_NAME_MAX)
        return false;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                             : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (k == 0 || i + k > n || c < 0x20 || c == 0x7f || c == 0xc0 || c == 0xc1 || c > 0xf4)
            return false;
        uint32_t cp = k == 1 ? c : c & (0x7fu >> k);
        for (size_t j = 1; j < k; j++) {
            unsigned char d = (unsigned char)s[i + j];
            if ((d & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (d & 0x3fu);
        }
        /* Overlong forms, surrogates, beyond U+10FFFF, and the C1 controls. */
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
            (cp >= 0x80 && cp < 0xa0))
            return false;
        i += k;
    }
    return true;
}
