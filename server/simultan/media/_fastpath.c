/* The direct send path in C: one call per feed packet writes it to every subscriber.
 *
 * A Route is one subscriber's way out (see simultan/media/route.py for the Python twin and
 * the contract both follow): its RTP numbering (sequence and timestamp offsets, the last
 * sequence number and timestamp sent), its wire (a dup of the ICE pair's UDP socket and the
 * remote address, the SSRC, payload type and header extension, an SRTP context and libsrtp's
 * srtp_protect, both taken from pylibsrtp's session, which the Route keeps alive), and the
 * counters a sender report needs.
 *
 * forward() loops over a list of routes for one packet: for each route that is ready and
 * anchored on this feed it rewrites the header, protects, sends (MSG_DONTWAIT: a full socket
 * drops the packet, it never waits) and counts. Routes that need Python (not ready, another
 * feed, a sequence jump) and routes whose send failed are returned by index, so the slow,
 * rare cases stay in Python (simultan/media/fanout.py).
 *
 * The GIL is held throughout: one packet to a few hundred subscribers is a few hundred
 * microseconds of sendto, and releasing and taking the GIL per packet would cost more.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE 2048
#define SRTP_MAX_TRAILER 144 /* pylibsrtp.SRTP_MAX_TRAILER_LEN */
#define MAX_EXTENSION 64

typedef int (*protect_fn)(void *ctx, void *rtp, int *len);

typedef struct {
    PyObject_HEAD
    /* numbering, owned by the subscriber's track */
    int ready;
    long long feed;
    unsigned int seq_off;
    unsigned int ts_off;
    unsigned int anchor_seq;
    unsigned int out_seq;
    unsigned int out_ts;
    long long out_arrival_ms;
    /* wire */
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    unsigned char byte0;
    unsigned char payload_type;
    uint32_t ssrc;
    unsigned char ext[MAX_EXTENSION];
    int extlen;
    void *ctx;
    protect_fn protect;
    PyObject *keep; /* the pylibsrtp session whose context we use */
    /* counters */
    unsigned long long sent;    /* packets out through this route (any path) */
    unsigned long long failed;  /* packets that could not go */
    unsigned long long fast_sent;   /* of them, by forward() */
    unsigned long long fast_failed;
    unsigned long long packets; /* for the sender report: RTP packets, payload octets */
    unsigned long long octets;
    unsigned int rtp_ts;
    unsigned long long ntp;
} Route;

static void route_close(Route *r) {
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    Py_CLEAR(r->keep);
    r->ctx = NULL;
    r->protect = NULL;
}

static int route_init(Route *r, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"out_seq", "out_ts", NULL};
    unsigned int out_seq = 0, out_ts = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|II", kwlist, &out_seq, &out_ts)) return -1;
    route_close(r);
    r->ready = 0;
    r->feed = -1;
    r->seq_off = r->ts_off = 0;
    r->out_seq = r->anchor_seq = out_seq & 0xFFFF;
    r->out_ts = out_ts;
    r->out_arrival_ms = 0;
    r->sent = r->failed = r->fast_sent = r->fast_failed = r->packets = r->octets = 0;
    r->rtp_ts = 0;
    r->ntp = 0;
    return 0;
}

static PyObject *route_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Route *r = (Route *)type->tp_alloc(type, 0);
    if (r != NULL) {
        r->fd = -1;
        r->keep = NULL;
    }
    return (PyObject *)r;
}

static void route_dealloc(Route *r) {
    route_close(r);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

/* configure(fd, host, port, byte0, payload_type, ssrc, extension, ctx, protect, keep) */
static PyObject *route_configure(Route *r, PyObject *args) {
    int fd, port, byte0, pt;
    unsigned int ssrc;
    const char *host;
    Py_buffer ext;
    unsigned long long ctx, fn;
    PyObject *keep;
    if (!PyArg_ParseTuple(args, "isiiiIy*KKO", &fd, &host, &port, &byte0, &pt, &ssrc, &ext, &ctx,
                          &fn, &keep))
        return NULL;
    if (ext.len > MAX_EXTENSION) {
        PyBuffer_Release(&ext);
        PyErr_SetString(PyExc_ValueError, "header extension too long");
        return NULL;
    }
    struct sockaddr_storage addr;
    socklen_t addrlen;
    memset(&addr, 0, sizeof addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        addrlen = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        addrlen = sizeof *v6;
    } else {
        PyBuffer_Release(&ext);
        PyErr_Format(PyExc_ValueError, "not an IP address: %s", host);
        return NULL;
    }
    int dup_fd = dup(fd);
    if (dup_fd < 0) {
        PyBuffer_Release(&ext);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    route_close(r);
    r->fd = dup_fd;
    r->addr = addr;
    r->addrlen = addrlen;
    r->byte0 = (unsigned char)byte0;
    r->payload_type = (unsigned char)pt;
    r->ssrc = ssrc;
    memcpy(r->ext, ext.buf, (size_t)ext.len);
    r->extlen = (int)ext.len;
    PyBuffer_Release(&ext);
    r->ctx = (void *)(uintptr_t)ctx;
    r->protect = (protect_fn)(uintptr_t)fn;
    Py_INCREF(keep);
    r->keep = keep;
    Py_RETURN_NONE;
}

static PyObject *route_unconfigure(Route *r, PyObject *Py_UNUSED(ignored)) {
    route_close(r);
    Py_RETURN_NONE;
}

/* Protect buf[0:len] in place and send it. 1 if it went. */
static int put(Route *r, unsigned char *buf, int len) {
    if (r->fd < 0) return 0;
    if (r->protect(r->ctx, buf, &len) != 0) return 0;
    return sendto(r->fd, buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&r->addr, r->addrlen) >= 0;
}

static int send_one(Route *r, const unsigned char *payload, Py_ssize_t n, int marker,
                    unsigned int seq, unsigned int ts, unsigned long long ntp) {
    unsigned char buf[BUFFER_SIZE];
    Py_ssize_t len = 12 + r->extlen + n;
    if (len + SRTP_MAX_TRAILER > BUFFER_SIZE || r->fd < 0) {
        r->failed++;
        return 0;
    }
    buf[0] = r->byte0;
    buf[1] = (unsigned char)(((marker & 1) << 7) | r->payload_type);
    buf[2] = (unsigned char)(seq >> 8);
    buf[3] = (unsigned char)seq;
    buf[4] = (unsigned char)(ts >> 24);
    buf[5] = (unsigned char)(ts >> 16);
    buf[6] = (unsigned char)(ts >> 8);
    buf[7] = (unsigned char)ts;
    buf[8] = (unsigned char)(r->ssrc >> 24);
    buf[9] = (unsigned char)(r->ssrc >> 16);
    buf[10] = (unsigned char)(r->ssrc >> 8);
    buf[11] = (unsigned char)r->ssrc;
    memcpy(buf + 12, r->ext, (size_t)r->extlen);
    memcpy(buf + 12 + r->extlen, payload, (size_t)n);
    if (!put(r, buf, (int)len)) {
        r->failed++;
        return 0;
    }
    r->sent++;
    r->packets++;
    r->octets += (unsigned long long)n;
    r->rtp_ts = ts;
    r->ntp = ntp;
    return 1;
}

/* send(payload, marker, seq, ts, ntp) -> bool */
static PyObject *route_send(Route *r, PyObject *args) {
    Py_buffer payload;
    int marker;
    unsigned int seq, ts;
    unsigned long long ntp;
    if (!PyArg_ParseTuple(args, "y*iIIK", &payload, &marker, &seq, &ts, &ntp)) return NULL;
    int ok = send_one(r, payload.buf, payload.len, marker, seq & 0xFFFF, ts, ntp);
    PyBuffer_Release(&payload);
    return PyBool_FromLong(ok);
}

/* send_packet(rtp) -> bool: a whole RTP packet (a retransmission), protected and sent. */
static PyObject *route_send_packet(Route *r, PyObject *args) {
    Py_buffer packet;
    if (!PyArg_ParseTuple(args, "y*", &packet)) return NULL;
    unsigned char buf[BUFFER_SIZE];
    int ok = 0;
    if (packet.len + SRTP_MAX_TRAILER <= BUFFER_SIZE) {
        memcpy(buf, packet.buf, (size_t)packet.len);
        ok = put(r, buf, (int)packet.len);
    }
    PyBuffer_Release(&packet);
    if (ok)
        r->sent++;
    else
        r->failed++;
    return PyBool_FromLong(ok);
}

static PyObject *route_configured(Route *r, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(r->fd >= 0);
}

static PyMemberDef route_members[] = {
    {"ready", T_INT, offsetof(Route, ready), 0, "anchored and wired: forward() may send"},
    {"feed", T_LONGLONG, offsetof(Route, feed), 0, "id of the feed the numbering follows"},
    {"seq_off", T_UINT, offsetof(Route, seq_off), 0, NULL},
    {"ts_off", T_UINT, offsetof(Route, ts_off), 0, NULL},
    {"anchor_seq", T_UINT, offsetof(Route, anchor_seq), 0, NULL},
    {"out_seq", T_UINT, offsetof(Route, out_seq), 0, NULL},
    {"out_ts", T_UINT, offsetof(Route, out_ts), 0, NULL},
    {"out_arrival_ms", T_LONGLONG, offsetof(Route, out_arrival_ms), 0, NULL},
    {"ssrc", T_UINT, offsetof(Route, ssrc), READONLY, NULL},
    {"sent", T_ULONGLONG, offsetof(Route, sent), READONLY, NULL},
    {"failed", T_ULONGLONG, offsetof(Route, failed), READONLY, NULL},
    {"fast_sent", T_ULONGLONG, offsetof(Route, fast_sent), READONLY, NULL},
    {"fast_failed", T_ULONGLONG, offsetof(Route, fast_failed), READONLY, NULL},
    {"packets", T_ULONGLONG, offsetof(Route, packets), READONLY, NULL},
    {"octets", T_ULONGLONG, offsetof(Route, octets), READONLY, NULL},
    {"rtp_ts", T_UINT, offsetof(Route, rtp_ts), READONLY, NULL},
    {"ntp", T_ULONGLONG, offsetof(Route, ntp), READONLY, NULL},
    {NULL},
};

static PyGetSetDef route_getset[] = {
    {"configured", (getter)route_configured, NULL, "has a wire (socket, SRTP)", NULL},
    {NULL},
};

static PyMethodDef route_methods[] = {
    {"configure", (PyCFunction)route_configure, METH_VARARGS, NULL},
    {"unconfigure", (PyCFunction)route_unconfigure, METH_NOARGS, NULL},
    {"send", (PyCFunction)route_send, METH_VARARGS, NULL},
    {"send_packet", (PyCFunction)route_send_packet, METH_VARARGS, NULL},
    {NULL},
};

static PyTypeObject RouteType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "simultan.media._fastpath.Route",
    .tp_basicsize = sizeof(Route),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One subscriber's RTP numbering and wire (C).",
    .tp_new = route_new,
    .tp_init = (initproc)route_init,
    .tp_dealloc = (destructor)route_dealloc,
    .tp_members = route_members,
    .tp_methods = route_methods,
    .tp_getset = route_getset,
};

/* forward(routes, feed, seq_in, ts_in, marker, payload, arrival_ms, ntp, max_jump)
 *   -> None, or (indices for the slow path, indices whose send failed) */
static PyObject *forward(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "forward() takes 9 arguments");
        return NULL;
    }
    PyObject *routes = args[0];
    if (!PyList_Check(routes)) {
        PyErr_SetString(PyExc_TypeError, "routes must be a list");
        return NULL;
    }
    long long feed = PyLong_AsLongLong(args[1]);
    unsigned long seq_in = PyLong_AsUnsignedLong(args[2]);
    unsigned long ts_in = PyLong_AsUnsignedLong(args[3]);
    long marker = PyLong_AsLong(args[4]);
    long long arrival_ms = PyLong_AsLongLong(args[6]);
    unsigned long long ntp = PyLong_AsUnsignedLongLong(args[7]);
    long max_jump = PyLong_AsLong(args[8]);
    if (PyErr_Occurred()) return NULL;
    Py_buffer payload;
    if (PyObject_GetBuffer(args[5], &payload, PyBUF_SIMPLE) < 0) return NULL;

    PyObject *slow = NULL, *failed = NULL;
    Py_ssize_t n = PyList_GET_SIZE(routes);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(routes, i);
        PyObject **into = NULL;
        if (Py_TYPE(item) != &RouteType) {
            into = &slow;
        } else {
            Route *r = (Route *)item;
            unsigned int seq = (unsigned int)(seq_in + r->seq_off) & 0xFFFF;
            unsigned int jump = (seq - r->out_seq) & 0xFFFF;
            if (!r->ready || r->feed != feed || r->fd < 0 ||
                ((long)jump > max_jump && (long)jump < 0x10000 - max_jump)) {
                into = &slow;
            } else {
                unsigned int ts = (unsigned int)(ts_in + r->ts_off);
                if (send_one(r, payload.buf, payload.len, (int)marker, seq, ts, ntp)) {
                    r->fast_sent++;
                    if (jump < 0x8000) { /* not a late one */
                        r->out_seq = seq;
                        r->out_ts = ts;
                        r->out_arrival_ms = arrival_ms;
                    }
                } else {
                    r->fast_failed++;
                    into = &failed;
                }
            }
        }
        if (into != NULL) {
            if (*into == NULL && (*into = PyList_New(0)) == NULL) goto error;
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(*into, index) < 0) {
                Py_XDECREF(index);
                goto error;
            }
            Py_DECREF(index);
        }
    }
    PyBuffer_Release(&payload);
    if (slow == NULL && failed == NULL) Py_RETURN_NONE;
    if (slow == NULL) slow = PyList_New(0);
    if (failed == NULL) failed = PyList_New(0);
    if (slow == NULL || failed == NULL) goto error_released;
    return Py_BuildValue("(NN)", slow, failed);

error:
    PyBuffer_Release(&payload);
error_released:
    Py_XDECREF(slow);
    Py_XDECREF(failed);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))forward, METH_FASTCALL,
     "Write one packet to every ready route; return the others by index."},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "simultan.media._fastpath", "The direct send path in C.", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if (PyType_Ready(&RouteType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&RouteType);
    if (PyModule_AddObject(m, "Route", (PyObject *)&RouteType) < 0) {
        Py_DECREF(&RouteType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
