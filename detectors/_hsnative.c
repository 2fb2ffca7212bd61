/*
 * detectors._hsnative: the candidate scan of detectors.matchers.HyperscanMatcher, in C.
 *
 * The python-hyperscan binding calls a Python function for every match event (one per
 * candidate end, nine per typical log line) and the scanner then sorts and thins the events
 * in Python. Here the events are collected, sorted and thinned in C and come back as one list,
 * with exactly the result of HyperscanMatcher's Python code: (pattern id, start byte, end
 * byte) sorted by (id, start, -end), without spans nested in an earlier, longer span of the
 * same pattern. The library is the system's libhs (Debian libhyperscan5), linked dynamically.
 *
 * Plain C helpers (no Hyperscan) for the sidecar's upload path live here too, the one C
 * extension the build makes: jpeg_marker serves pipeline.media.markers (where a JPEG's
 * entropy-coded data ends), BodyBuffer lets a request body be read from the socket
 * straight into the bytes object that is then stripped (no copy of the upload), and
 * http_head splits the usual, strictly well-formed HTTP/1.x head (the sidecar's requests
 * and its upstream's responses) in one pass, and jpeg_plan does the usual JPEG's strip
 * (pipeline.media.jpeg) in one pass, where the Python code builds many small objects.
 *
 * Thread safety: a Matcher scan holds the GIL throughout (it takes microseconds), so the one
 * scratch space per Matcher is never used by two scans at once. A long jpeg_marker search
 * releases the GIL; it touches no shared state.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned int id;
    unsigned long long from;
    unsigned long long to;
} Event;

typedef struct {
    Event *items;
    size_t len;
    size_t cap;
    int failed; /* out of memory */
} Events;

typedef struct {
    PyObject_HEAD
    hs_database_t *db;
    hs_scratch_t *scratch;
} Matcher;

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx) {
    (void)flags;
    Events *ev = (Events *)ctx;
    if (ev->len == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 64;
        Event *grown = (Event *)realloc(ev->items, cap * sizeof(Event));
        if (grown == NULL) {
            ev->failed = 1;
            return 1; /* stop the scan */
        }
        ev->items = grown;
        ev->cap = cap;
    }
    ev->items[ev->len].id = id;
    ev->items[ev->len].from = from;
    ev->items[ev->len].to = to;
    ev->len++;
    return 0;
}

static int by_id_start_longest(const void *a, const void *b) {
    const Event *x = (const Event *)a, *y = (const Event *)b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    if (x->to != y->to) return x->to > y->to ? -1 : 1; /* longer first */
    return 0;
}

static void Matcher_dealloc(Matcher *self) {
    if (self->scratch) hs_free_scratch(self->scratch);
    if (self->db) hs_free_database(self->db);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Matcher(expressions: list[bytes], flags: list[int]) */
static int Matcher_init(Matcher *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"expressions", "flags", NULL};
    PyObject *exprs_obj, *flags_obj;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!", kwlist, &PyList_Type, &exprs_obj,
                                     &PyList_Type, &flags_obj))
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(exprs_obj);
    if (n == 0 || PyList_GET_SIZE(flags_obj) != n) {
        PyErr_SetString(PyExc_ValueError, "expressions and flags: same non-zero length");
        return -1;
    }
    const char **exprs = PyMem_Calloc((size_t)n, sizeof(char *));
    unsigned int *flags = PyMem_Calloc((size_t)n, sizeof(unsigned int));
    unsigned int *ids = PyMem_Calloc((size_t)n, sizeof(unsigned int));
    int rc = -1;
    if (exprs == NULL || flags == NULL || ids == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(exprs_obj, i);
        if (!PyBytes_Check(e)) {
            PyErr_SetString(PyExc_TypeError, "expressions must be bytes");
            goto done;
        }
        exprs[i] = PyBytes_AS_STRING(e);
        unsigned long f = PyLong_AsUnsignedLong(PyList_GET_ITEM(flags_obj, i));
        if (PyErr_Occurred()) goto done;
        flags[i] = (unsigned int)f;
        ids[i] = (unsigned int)i;
    }
    hs_compile_error_t *err = NULL;
    hs_database_t *db = NULL;
    if (hs_compile_multi(exprs, flags, ids, (unsigned int)n, HS_MODE_BLOCK, NULL, &db, &err) !=
        HS_SUCCESS) {
        PyErr_Format(PyExc_ValueError, "hyperscan compile failed (expression %d): %s",
                     err ? err->expression : -1, err && err->message ? err->message : "?");
        if (err) hs_free_compile_error(err);
        goto done;
    }
    hs_scratch_t *scratch = NULL;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
        hs_free_database(db);
        PyErr_NoMemory();
        goto done;
    }
    if (self->scratch) hs_free_scratch(self->scratch);
    if (self->db) hs_free_database(self->db);
    self->db = db;
    self->scratch = scratch;
    rc = 0;
done:
    PyMem_Free(exprs);
    PyMem_Free(flags);
    PyMem_Free(ids);
    return rc;
}

/* scan(data: bytes) -> list[tuple[int, int, int]] */
static PyObject *Matcher_scan(Matcher *self, PyObject *data) {
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "data must be bytes");
        return NULL;
    }
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Matcher not initialised");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    if ((unsigned long long)size > 0xFFFFFFFFull) {
        PyErr_SetString(PyExc_ValueError, "text too large for one Hyperscan block (4 GiB)");
        return NULL;
    }
    Events ev = {NULL, 0, 0, 0};
    hs_error_t rc = hs_scan(self->db, PyBytes_AS_STRING(data), (unsigned int)size, 0,
                            self->scratch, on_match, &ev);
    if (ev.failed) {
        free(ev.items);
        return PyErr_NoMemory();
    }
    if (rc != HS_SUCCESS) {
        free(ev.items);
        PyErr_Format(PyExc_RuntimeError, "hyperscan scan failed (error %d)", (int)rc);
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        free(ev.items);
        return NULL;
    }
    if (ev.len > 1) qsort(ev.items, ev.len, sizeof(Event), by_id_start_longest);
    long long last_id = -1;
    unsigned long long last_end = 0;
    for (size_t i = 0; i < ev.len; i++) {
        Event *e = &ev.items[i];
        if ((long long)e->id == last_id && e->to <= last_end) continue; /* nested */
        last_id = e->id;
        last_end = e->to;
        PyObject *t = Py_BuildValue("(IKK)", e->id, e->from, e->to);
        if (t == NULL || PyList_Append(out, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(out);
            free(ev.items);
            return NULL;
        }
        Py_DECREF(t);
    }
    free(ev.items);
    return out;
}

/* jpeg_marker releases the GIL for inputs at least this long (a multi-megabyte photo,
 * stripped in a worker thread). */
#define MARKER_NOGIL_BYTES (256 * 1024)

/* The first JPEG marker in buf[0:len): 0xFF followed by neither 0x00 (stuffing), RSTn
 * (0xD0-0xD7) nor 0xFF (fill). memchr (SIMD in glibc) finds each 0xFF, about one per 256
 * bytes of entropy-coded data; the byte after it decides. Same answer as the regex
 * rb"\xff[\x01-\xcf\xd8-\xfe]" searched from the start (a property test checks). */
static Py_ssize_t first_jpeg_marker(const unsigned char *buf, Py_ssize_t len) {
    const unsigned char *p = buf;
    const unsigned char *end = buf + len;
    while (p + 1 < end) {
        const unsigned char *ff = memchr(p, 0xFF, (size_t)(end - 1 - p));
        if (ff == NULL) return -1;
        unsigned char next = ff[1];
        if (next != 0x00 && next != 0xFF && (next < 0xD0 || next > 0xD7)) return ff - buf;
        p = ff + 1;
    }
    return -1;
}

/* The offset of the first marker in d[from:n], or -1; a long search releases the GIL (the
 * caller holds the buffer, and no shared state is touched). */
static Py_ssize_t scan_marker(const unsigned char *d, Py_ssize_t from, Py_ssize_t n) {
    Py_ssize_t found;
    if (n - from >= MARKER_NOGIL_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        found = first_jpeg_marker(d + from, n - from);
        Py_END_ALLOW_THREADS
    } else {
        found = first_jpeg_marker(d + from, n - from);
    }
    return found < 0 ? -1 : from + found;
}

/* jpeg_marker(data: bytes-like, start: int) -> int */
static PyObject *jpeg_marker(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    (void)mod;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "jpeg_marker(data, start) takes 2 arguments");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    if (start < 0) start = 0;
    if (start > view.len) start = view.len;
    Py_ssize_t found = scan_marker((const unsigned char *)view.buf, start, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(found);
}

static PyMethodDef Matcher_methods[] = {
    {"scan", (PyCFunction)Matcher_scan, METH_O,
     "scan(data: bytes) -> list of (id, start, end): sorted by (id, start, -end), spans "
     "nested in a longer span of the same id dropped."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "detectors._hsnative.Matcher",
    .tp_basicsize = sizeof(Matcher),
    .tp_dealloc = (destructor)Matcher_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Matcher(expressions: list[bytes], flags: list[int]): a block-mode database.",
    .tp_methods = Matcher_methods,
    .tp_init = (initproc)Matcher_init,
    .tp_new = PyType_GenericNew,
};


/* BodyBuffer(n): a bytes object of n bytes, writable through the buffer protocol until it
 * is taken. The sidecar reads an upload's body into it (memoryview(buffer) and slices of it,
 * given to the event loop's recv_into) and then take()s the bytes without a copy. The bytes
 * object is new and referenced by nothing else until take(), so filling it in place is
 * invisible to the rest of the program (CPython's own bytes constructors do the same), and
 * take() refuses while any view is still exported, so nothing can write to it afterwards.
 * Views hold the BodyBuffer (their owner), which holds the bytes: no view outlives them. */
typedef struct {
    PyObject_HEAD
    PyObject *bytes; /* NULL once taken */
    Py_ssize_t exports;
} BodyBuffer;

static int BodyBuffer_init(BodyBuffer *self, PyObject *args, PyObject *kwds) {
    Py_ssize_t n;
    static char *kwlist[] = {"size", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n", kwlist, &n)) return -1;
    if (n < 2) {
        /* 0 and 1 may give CPython's shared bytes objects: never write into those. */
        PyErr_SetString(PyExc_ValueError, "BodyBuffer size must be at least 2");
        return -1;
    }
    if (self->bytes != NULL || self->exports) {
        PyErr_SetString(PyExc_RuntimeError, "BodyBuffer initialised twice");
        return -1;
    }
    self->bytes = PyBytes_FromStringAndSize(NULL, n);
    return self->bytes == NULL ? -1 : 0;
}

static void BodyBuffer_dealloc(BodyBuffer *self) {
    Py_XDECREF(self->bytes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int BodyBuffer_getbuffer(BodyBuffer *self, Py_buffer *view, int flags) {
    if (self->bytes == NULL) {
        PyErr_SetString(PyExc_BufferError, "BodyBuffer already taken");
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, PyBytes_AS_STRING(self->bytes),
                          PyBytes_GET_SIZE(self->bytes), 0, flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void BodyBuffer_releasebuffer(BodyBuffer *self, Py_buffer *view) {
    (void)view;
    self->exports--;
}

static PyObject *BodyBuffer_take(BodyBuffer *self, PyObject *unused) {
    (void)unused;
    if (self->bytes == NULL) {
        PyErr_SetString(PyExc_BufferError, "BodyBuffer already taken");
        return NULL;
    }
    if (self->exports) {
        PyErr_SetString(PyExc_BufferError, "BodyBuffer still has views: release them first");
        return NULL;
    }
    PyObject *out = self->bytes;
    self->bytes = NULL;
    return out;
}

static PyBufferProcs BodyBuffer_as_buffer = {
    (getbufferproc)BodyBuffer_getbuffer,
    (releasebufferproc)BodyBuffer_releasebuffer,
};

static PyMethodDef BodyBuffer_methods[] = {
    {"take", (PyCFunction)BodyBuffer_take, METH_NOARGS,
     "take() -> bytes: the filled bytes object; BufferError while a view is exported or "
     "once taken."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject BodyBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "detectors._hsnative.BodyBuffer",
    .tp_basicsize = sizeof(BodyBuffer),
    .tp_dealloc = (destructor)BodyBuffer_dealloc,
    .tp_as_buffer = &BodyBuffer_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "BodyBuffer(size: int): a new bytes object of size bytes, writable through the "
              "buffer protocol until take().",
    .tp_methods = BodyBuffer_methods,
    .tp_init = (initproc)BodyBuffer_init,
    .tp_new = PyType_GenericNew,
};

/* ---- HTTP/1.1 heads -------------------------------------------------------------------- */

/* RFC 9110 5.6.2 tchar. */
static unsigned char TCHAR[256];

static void init_tchar(void) {
    const char *extra = "!#$%&'*+-.^_`|~";
    for (int c = '0'; c <= '9'; c++) TCHAR[c] = 1;
    for (int c = 'a'; c <= 'z'; c++) TCHAR[c] = 1;
    for (int c = 'A'; c <= 'Z'; c++) TCHAR[c] = 1;
    for (const char *e = extra; *e; e++) TCHAR[(unsigned char)*e] = 1;
}

/* The header lines at buf[0:len), each "name:OWS value OWS CRLF", then the final CRLF, as a
 * list of (name, value) str pairs with the value's surrounding SP/HTAB stripped. NULL with
 * no exception set when a line is anything else: a name not a token, a byte outside
 * SP/HTAB/0x21-0x7E in a value, a bare CR or LF, a folded line, no final empty line. */
static PyObject *header_pairs(const unsigned char *p, const unsigned char *end) {
    PyObject *pairs = PyList_New(0);
    if (pairs == NULL) return NULL;
    for (;;) {
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            if (p + 2 == end) return pairs;
            goto refuse;
        }
        const unsigned char *name = p;
        while (p < end && TCHAR[*p]) p++;
        if (p == name || p >= end || *p != ':') goto refuse;
        Py_ssize_t name_len = p - name;
        p++;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const unsigned char *value = p;
        const unsigned char *value_end = p; /* after the last non-OWS byte */
        while (p < end && *p != '\r') {
            unsigned char c = *p;
            if (c >= 0x21 && c <= 0x7E) {
                value_end = p + 1;
            } else if (c != ' ' && c != '\t') {
                goto refuse;
            }
            p++;
        }
        if (end - p < 2 || p[1] != '\n') goto refuse;
        p += 2;
        PyObject *pair = Py_BuildValue(
            "(s#s#)", (const char *)name, name_len, (const char *)value, value_end - value);
        if (pair == NULL) goto refuse; /* the exception set tells the caller */
        int added = PyList_Append(pairs, pair);
        Py_DECREF(pair);
        if (added < 0) goto refuse;
    }
refuse:
    Py_DECREF(pairs);
    return NULL;
}

/* http_head(head: bytes, response: bool) -> tuple | None */
static PyObject *http_head(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    (void)mod;
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "http_head(head: bytes, response: bool)");
        return NULL;
    }
    int response = PyObject_IsTrue(args[1]);
    if (response < 0) return NULL;
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    const unsigned char *end = buf + PyBytes_GET_SIZE(args[0]);
    const unsigned char *p = buf;
    PyObject *pairs;
    if (!response) {
        /* method SP origin-or-other-form SP "HTTP/1.1" CRLF */
        const unsigned char *method = p;
        while (p < end && TCHAR[*p]) p++;
        if (p == method || p >= end || *p != ' ') Py_RETURN_NONE;
        Py_ssize_t method_len = p - method;
        const unsigned char *target = ++p;
        while (p < end && *p >= 0x21 && *p <= 0x7E) p++;
        if (p == target || end - p < 11 || memcmp(p, " HTTP/1.1\r\n", 11) != 0) Py_RETURN_NONE;
        Py_ssize_t target_len = p - target;
        pairs = header_pairs(p + 11, end);
        if (pairs == NULL) {
            if (PyErr_Occurred()) return NULL;
            Py_RETURN_NONE;
        }
        return Py_BuildValue("(s#s#N)", (const char *)method, method_len,
                             (const char *)target, target_len, pairs);
    }
    /* "HTTP/1." DIGIT SP 3DIGIT [SP reason] CRLF, the status 100-999 */
    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != ' ' || p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' ||
        p[11] < '0' || p[11] > '9')
        Py_RETURN_NONE;
    int minor = p[7] - '0';
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    p += 12;
    const unsigned char *reason = p;
    Py_ssize_t reason_len = 0;
    if (p < end && *p == ' ') {
        reason = ++p;
        while (p < end && ((*p >= 0x20 && *p <= 0x7E) || *p == '\t')) p++;
        reason_len = p - reason;
    }
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') Py_RETURN_NONE;
    pairs = header_pairs(p + 2, end);
    if (pairs == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(iis#N)", minor, status, (const char *)reason, reason_len, pairs);
}

/* ---- jpeg_plan: the usual JPEG's strip planned in one pass (pipeline.media.jpeg) ---------
 *
 * The same walk as strip_jpeg_parts and the same EXIF rewrite as tiff.rewrite_exif (without
 * coarse GPS), for a policy that drops location: it returns what the Python code would
 * produce, or None wherever that code would raise or do something this does not (a second
 * EXIF block, a bad IFD structure, a limit reached...), and the Python code then runs as
 * before. Everything named in the removal report is left to Python: this returns where the
 * dropped segments are and the EXIF block's tag layout, never a name or a value. A property
 * test holds the two paths to the same result on the corpus and on mutated files. */

typedef struct {
    unsigned char *p;
    size_t len;
    size_t cap;
    int failed; /* out of memory */
} Buf;

static int buf_put(Buf *b, const void *src, size_t n) {
    if (b->failed) return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = PyMem_Realloc(b->p, cap);
        if (p == NULL) {
            b->failed = 1;
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

#define PLAN_MAX_IFDS 64 /* the visited list's size; a larger limit is not planned here */

typedef struct {
    const unsigned char *d;
    unsigned long long n;
    int big; /* Motorola byte order */
    unsigned long long visited[PLAN_MAX_IFDS];
    int nvisited;
    int max_ifds;
    unsigned long long max_entries;
} Tiff;

typedef struct {
    unsigned long long table_at; /* offset of the first entry */
    unsigned long long count;
    unsigned long long next;
    int present;
} Ifd;

typedef struct {
    unsigned int type;
    unsigned long long count;
    unsigned long long size;
    long long voff; /* -1: unknown type or value out of bounds (never read) */
} Ent;

/* tiff.TYPE_SIZES by type number; 0: not a known type */
static const unsigned char TIFF_TYPE_SIZE[19] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};

static unsigned int t16(const Tiff *t, unsigned long long off) {
    const unsigned char *p = t->d + off;
    return t->big ? (unsigned int)(p[0] << 8 | p[1]) : (unsigned int)(p[1] << 8 | p[0]);
}

static unsigned long long t32(const Tiff *t, unsigned long long off) {
    const unsigned char *p = t->d + off;
    if (t->big)
        return (unsigned long long)p[0] << 24 | (unsigned long long)p[1] << 16 |
               (unsigned long long)p[2] << 8 | p[3];
    return (unsigned long long)p[3] << 24 | (unsigned long long)p[2] << 16 |
           (unsigned long long)p[1] << 8 | p[0];
}

/* TiffReader.ifd: 0, or -1 where the Python code raises. */
static int tiff_ifd(Tiff *t, unsigned long long offset, Ifd *out) {
    out->present = 0;
    for (int i = 0; i < t->nvisited; i++)
        if (t->visited[i] == offset) return -1;
    if (t->nvisited >= t->max_ifds) return -1;
    if (offset < 8 || offset + 2 > t->n) return -1;
    t->visited[t->nvisited++] = offset;
    unsigned long long count = t16(t, offset);
    if (count > t->max_entries || offset + 2 + 12 * count + 4 > t->n) return -1;
    out->table_at = offset + 2;
    out->count = count;
    out->next = t32(t, offset + 2 + 12 * count);
    out->present = 1;
    return 0;
}

/* Entries.get: the first entry of ``tag``, decoded as Entries.__getitem__ does; 0 if absent. */
static int tiff_find(const Tiff *t, const Ifd *ifd, unsigned int tag, Ent *e) {
    for (unsigned long long i = 0; i < ifd->count; i++) {
        unsigned long long at = ifd->table_at + 12 * i;
        if (t16(t, at) != tag) continue;
        e->type = t16(t, at + 2);
        e->count = t32(t, at + 4);
        unsigned long long value = t32(t, at + 8);
        unsigned int unit = e->type < sizeof TIFF_TYPE_SIZE ? TIFF_TYPE_SIZE[e->type] : 0;
        e->size = unit * e->count;
        if (unit == 0)
            e->voff = -1;
        else if (e->size <= 4)
            e->voff = (long long)(at + 8);
        else
            e->voff = value + e->size <= t->n ? (long long)value : -1;
        return 1;
    }
    return 0;
}

/* tiff._sub: the sub-IFD a pointer tag names (absent if the pointer is); -1 where Python
 * raises. */
static int tiff_sub(Tiff *t, const Ifd *parent, unsigned int tag, Ifd *out) {
    out->present = 0;
    Ent e;
    if (!tiff_find(t, parent, tag, &e)) return 0;
    if (!(e.type == 4 || e.type == 13 || e.type == 7) || e.count != 1 || e.voff < 0) return 0;
    unsigned long long off = t32(t, (unsigned long long)e.voff);
    if (off == 0) return 0;
    return tiff_ifd(t, off, out);
}

typedef struct {
    unsigned int tag;
    unsigned int type;
    unsigned long long count;
    const unsigned char *value;
    size_t len;
} OutEntry;

static void put16(Buf *b, int big, unsigned int v) {
    unsigned char p[2];
    if (big) {
        p[0] = (unsigned char)(v >> 8);
        p[1] = (unsigned char)v;
    } else {
        p[0] = (unsigned char)v;
        p[1] = (unsigned char)(v >> 8);
    }
    buf_put(b, p, 2);
}

static void put32(Buf *b, int big, unsigned long long v) {
    unsigned char p[4];
    for (int i = 0; i < 4; i++) p[big ? 3 - i : i] = (unsigned char)(v >> (8 * i));
    buf_put(b, p, 4);
}

/* tiff.ifd_size */
static size_t ifd_size(const OutEntry *e, int k) {
    size_t s = 2 + 12 * (size_t)k + 4;
    for (int i = 0; i < k; i++)
        if (e[i].len > 4) s += e[i].len + (e[i].len & 1);
    return s;
}

/* tiff.write_ifd with next_ifd 0; ``e`` is sorted by tag in place (stable). */
static void write_ifd(Buf *b, OutEntry *e, int k, size_t start, int big) {
    for (int i = 1; i < k; i++) {
        OutEntry x = e[i];
        int j = i - 1;
        for (; j >= 0 && e[j].tag > x.tag; j--) e[j + 1] = e[j];
        e[j + 1] = x;
    }
    put16(b, big, (unsigned int)k);
    size_t offset = start + 2 + 12 * (size_t)k + 4;
    static const unsigned char zeros[4] = {0, 0, 0, 0};
    for (int i = 0; i < k; i++) {
        put16(b, big, e[i].tag);
        put16(b, big, e[i].type);
        put32(b, big, e[i].count);
        if (e[i].len <= 4) {
            buf_put(b, e[i].value, e[i].len);
            buf_put(b, zeros, 4 - e[i].len);
        } else {
            put32(b, big, offset);
            offset += e[i].len + (e[i].len & 1);
        }
    }
    put32(b, big, 0);
    for (int i = 0; i < k; i++) {
        if (e[i].len <= 4) continue;
        buf_put(b, e[i].value, e[i].len);
        if (e[i].len & 1) buf_put(b, zeros, 1);
    }
}

static const unsigned int DATE_TAGS_EXIF[8] = {0x9003, 0x9004, 0x9010, 0x9011,
                                               0x9012, 0x9290, 0x9291, 0x9292};

/* One IFD of the layout key (see plan_exif): its kind, its tags in file order (duplicates
 * included), its kept tags in ascending order. */
static void key_add(Buf *key, unsigned char kind, const Tiff *t, const Ifd *ifd,
                    const unsigned int *kept, int nkept) {
    buf_put(key, &kind, 1);
    put16(key, 1, (unsigned int)ifd->count);
    for (unsigned long long i = 0; i < ifd->count; i++) put16(key, 1, t16(t, ifd->table_at + 12 * i));
    unsigned char k = (unsigned char)nkept;
    buf_put(key, &k, 1);
    for (int i = 0; i < nkept; i++) put16(key, 1, kept[i]);
}

/* The EXIF block d[0:n] (TIFF header first) as tiff.rewrite_exif rewrites it for a policy
 * that drops location: the APP1 segment to write goes to ``head`` (nothing when nothing is
 * kept), and *info is set to the block's layout key for the report. 1: done; 0: not planned
 * here (the Python code decides); -1: a Python error is set. */
static int plan_exif(const unsigned char *d, Py_ssize_t n, int keep_dates, int max_ifds,
                     unsigned long long max_entries, Buf *head, PyObject **info) {
    Tiff t;
    t.d = d;
    t.n = (unsigned long long)n;
    t.nvisited = 0;
    t.max_ifds = max_ifds;
    t.max_entries = max_entries;
    if (n < 8) return 0;
    if (memcmp(d, "II*\0", 4) == 0)
        t.big = 0;
    else if (memcmp(d, "MM\0*", 4) == 0)
        t.big = 1;
    else
        return 0;
    Ifd ifd0, exif, gps, interop, later[PLAN_MAX_IFDS];
    int nlater = 0;
    if (tiff_ifd(&t, t32(&t, 4), &ifd0) < 0) return 0;
    if (tiff_sub(&t, &ifd0, 0x8769, &exif) < 0) return 0;
    if (tiff_sub(&t, &ifd0, 0x8825, &gps) < 0) return 0;
    interop.present = 0;
    if (exif.present && tiff_sub(&t, &exif, 0xA005, &interop) < 0) return 0;
    for (unsigned long long nxt = ifd0.next; nxt; nxt = later[nlater - 1].next) {
        if (nlater >= PLAN_MAX_IFDS || tiff_ifd(&t, nxt, &later[nlater]) < 0) return 0;
        nlater++;
    }

    OutEntry out0[3], out_exif[8];
    int n0 = 0, nexif = 0;
    unsigned int kept0[2], kept_exif[8];
    Ent e;
    if (tiff_find(&t, &ifd0, 0x0112, &e) && e.type == 3 && e.count == 1 && e.voff >= 0) {
        unsigned int v = t16(&t, (unsigned long long)e.voff);
        if (v >= 1 && v <= 8) {
            out0[n0] = (OutEntry){0x0112, 3, 1, d + e.voff, 2};
            kept0[n0++] = 0x0112;
        }
    }
    if (keep_dates) {
        /* A date is copied when it is ASCII, its value lies in the block, and it is short. */
        if (tiff_find(&t, &ifd0, 0x0132, &e) && e.type == 2 && e.voff >= 0 && e.count <= 64) {
            out0[n0] = (OutEntry){0x0132, 2, e.count, d + e.voff, (size_t)e.size};
            kept0[n0++] = 0x0132;
        }
        for (int i = 0; exif.present && i < 8; i++) {
            unsigned int tag = DATE_TAGS_EXIF[i];
            if (tiff_find(&t, &exif, tag, &e) && e.type == 2 && e.voff >= 0 && e.count <= 64) {
                out_exif[nexif] = (OutEntry){tag, 2, e.count, d + e.voff, (size_t)e.size};
                kept_exif[nexif++] = tag;
            }
        }
    }

    int nkept0 = n0;
    if (n0 || nexif) {
        /* tiff.build_exif(out0, out_exif, [], endian) inside an APP1 segment. */
        unsigned char pointer[4];
        if (nexif) out0[n0++] = (OutEntry){0x8769, 4, 1, pointer, 4};
        size_t exif_off = 8 + ifd_size(out0, n0);
        size_t blob = exif_off + (nexif ? ifd_size(out_exif, nexif) : 0);
        if (blob + 8 > 0xFFFF) return 0;
        for (int i = 0; i < 4; i++)
            pointer[t.big ? 3 - i : i] = (unsigned char)(exif_off >> (8 * i));
        unsigned char seg[4] = {0xFF, 0xE1, (unsigned char)((blob + 8) >> 8),
                                (unsigned char)(blob + 8)};
        buf_put(head, seg, 4);
        buf_put(head, "Exif\0\0", 6);
        buf_put(head, t.big ? "MM\0*" : "II*\0", 4);
        put32(head, t.big, 8);
        write_ifd(head, out0, n0, 8, t.big);
        if (nexif) write_ifd(head, out_exif, nexif, exif_off, t.big);
    }

    /* The layout as bytes: per IFD, in the order of tiff._groups (IFD0, ExifIFD, GPS,
     * Interop, then IFD1 and what is chained after it, all kind 4), the kind (0-4), the tag
     * count, the tags and the kept tags (a count byte, then the tags), 16-bit big-endian;
     * then a byte: 1 if there is a thumbnail IFD. Tag numbers only, never values. */
    Buf key = {NULL, 0, 0, 0};
    key_add(&key, 0, &t, &ifd0, kept0, nkept0);
    if (exif.present) key_add(&key, 1, &t, &exif, kept_exif, nexif);
    if (gps.present) key_add(&key, 2, &t, &gps, NULL, 0);
    if (interop.present) key_add(&key, 3, &t, &interop, NULL, 0);
    for (int i = 0; i < nlater; i++) key_add(&key, 4, &t, &later[i], NULL, 0);
    unsigned char thumbnail = nlater ? 1 : 0;
    buf_put(&key, &thumbnail, 1);
    if (key.failed) {
        PyMem_Free(key.p);
        PyErr_NoMemory();
        return -1;
    }
    *info = PyBytes_FromStringAndSize((const char *)key.p, (Py_ssize_t)key.len);
    PyMem_Free(key.p);
    return *info == NULL ? -1 : 1;
}

static int is_sof(unsigned int m) {
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static int is_structure(unsigned int m) {
    return is_sof(m) || m == 0xC4 || m == 0xCC || m == 0xDB || m == 0xDD || m == 0xDC;
}

/* The head gathered so far as one bytes piece of ``pieces`` (none when empty). */
static int flush_head(Buf *head, PyObject *pieces) {
    if (head->failed) {
        PyErr_NoMemory();
        return -1;
    }
    if (head->len == 0) return 0;
    PyObject *b = PyBytes_FromStringAndSize((const char *)head->p, (Py_ssize_t)head->len);
    if (b == NULL) return -1;
    head->len = 0;
    int rc = PyList_Append(pieces, b);
    Py_DECREF(b);
    return rc;
}

static int add_range(PyObject *list, Py_ssize_t a, Py_ssize_t b) {
    PyObject *r = Py_BuildValue("(nn)", a, b);
    if (r == NULL) return -1;
    int rc = PyList_Append(list, r);
    Py_DECREF(r);
    return rc;
}

/* jpeg_plan(data, keep_dates, max_pixels, max_segments, max_ifds, max_entries) */
static PyObject *jpeg_plan(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    (void)mod;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "jpeg_plan() takes 6 arguments");
        return NULL;
    }
    int keep_dates = PyObject_IsTrue(args[1]);
    long long max_pixels = PyLong_AsLongLong(args[2]);
    long long max_segments = PyLong_AsLongLong(args[3]);
    long long max_ifds = PyLong_AsLongLong(args[4]);
    long long max_entries = PyLong_AsLongLong(args[5]);
    if (keep_dates < 0 || PyErr_Occurred()) return NULL;
    if (!PyBytes_Check(args[0]) || max_ifds < 0 || max_ifds > PLAN_MAX_IFDS || max_entries < 0)
        Py_RETURN_NONE;
    const unsigned char *d = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    if (n < 4 || d[0] != 0xFF || d[1] != 0xD8) Py_RETURN_NONE;

    Buf head = {NULL, 0, 0, 0};
    PyObject *pieces = PyList_New(0);
    PyObject *dropped = PyList_New(0);
    PyObject *exif_info = NULL;
    PyObject *result = NULL;
    if (pieces == NULL || dropped == NULL) goto fail;
    buf_put(&head, "\xff\xd8", 2);
    int seen_sof = 0, seen_scan = 0, exif_done = 0, thumb = 0, icc = 0, adobe = 0;
    Py_ssize_t trailer_at = -1;
    Py_ssize_t pos = 2;
    for (long long seg = 0;; seg++) {
        if (seg >= max_segments) goto refuse;
        if (pos + 2 > n || d[pos] != 0xFF) goto refuse;
        unsigned int m = d[pos + 1];
        if (m == 0xFF) { /* fill byte before a marker */
            pos += 1;
            continue;
        }
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            pos += 2;
            continue;
        }
        if (m == 0xD9 && seen_scan) {
            buf_put(&head, "\xff\xd9", 2);
            if (flush_head(&head, pieces) < 0) goto fail;
            if (pos + 2 < n) trailer_at = pos + 2;
            break;
        }
        if (m == 0xD8 || m == 0xD9 || pos + 4 > n) goto refuse;
        Py_ssize_t end = pos + 2 + (d[pos + 2] << 8 | d[pos + 3]);
        if (end < pos + 4 || end > n) goto refuse;
        const unsigned char *p = d + pos + 4;
        Py_ssize_t plen = end - pos - 4;
        if (is_sof(m)) {
            if (plen < 6) goto refuse;
            long long height = p[1] << 8 | p[2], width = p[3] << 8 | p[4];
            if (width * height > max_pixels) goto refuse;
            seen_sof = 1;
            buf_put(&head, d + pos, (size_t)(end - pos));
        } else if (is_structure(m)) {
            buf_put(&head, d + pos, (size_t)(end - pos));
        } else if (m == 0xDA) {
            if (!seen_sof) goto refuse;
            seen_scan = 1;
            Py_ssize_t at = scan_marker(d, end, n);
            if (at < 0) goto refuse;
            if (flush_head(&head, pieces) < 0) goto fail;
            if (d[at + 1] == 0xD9) {
                if (add_range(pieces, pos, at + 2) < 0) goto fail;
                if (at + 2 < n) trailer_at = at + 2;
                break;
            }
            if (add_range(pieces, pos, at) < 0) goto fail;
            pos = at;
            continue;
        } else if (m == 0xE1 && plen >= 6 && memcmp(p, "Exif\0\0", 6) == 0) {
            if (exif_done) goto refuse; /* a second EXIF block: reported by the Python code */
            int rc = plan_exif(p + 6, plen - 6, keep_dates, (int)max_ifds,
                               (unsigned long long)max_entries, &head, &exif_info);
            if (rc < 0) goto fail;
            if (rc == 0) goto refuse;
            exif_done = 1;
        } else if (m == 0xE0 && plen >= 14 && memcmp(p, "JFIF\0", 5) == 0) {
            if (p[12] || p[13] || plen > 14) thumb = 1;
            buf_put(&head, "\xff\xe0\x00\x10", 4); /* same header, no thumbnail */
            buf_put(&head, p, 12);
            buf_put(&head, "\0\0", 2);
        } else if (m == 0xE2 && plen >= 12 && memcmp(p, "ICC_PROFILE\0", 12) == 0) {
            icc = 1;
            buf_put(&head, d + pos, (size_t)(end - pos));
        } else if (m == 0xEE && plen >= 5 && memcmp(p, "Adobe", 5) == 0) {
            adobe = 1;
            buf_put(&head, d + pos, (size_t)(end - pos));
        } else {
            PyObject *r = Py_BuildValue("(Inn)", m, pos + 4, end);
            if (r == NULL || PyList_Append(dropped, r) < 0) {
                Py_XDECREF(r);
                goto fail;
            }
            Py_DECREF(r);
        }
        pos = end;
    }
    if (head.failed) {
        PyErr_NoMemory();
        goto fail;
    }
    if (exif_info == NULL) {
        exif_info = Py_None;
        Py_INCREF(Py_None);
    }
    result = Py_BuildValue("(NNOOOOn)", pieces, exif_info, thumb ? Py_True : Py_False,
                           icc ? Py_True : Py_False, adobe ? Py_True : Py_False, dropped,
                           trailer_at);
    Py_DECREF(dropped);
    PyMem_Free(head.p);
    return result;
refuse:
    Py_XDECREF(pieces);
    Py_XDECREF(dropped);
    Py_XDECREF(exif_info);
    PyMem_Free(head.p);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(pieces);
    Py_XDECREF(dropped);
    Py_XDECREF(exif_info);
    PyMem_Free(head.p);
    return NULL;
}

static PyObject *version(PyObject *mod, PyObject *unused) {
    (void)mod;
    (void)unused;
    return PyUnicode_FromString(hs_version());
}

static PyMethodDef module_methods[] = {
    {"version", version, METH_NOARGS, "The linked Hyperscan library's version string."},
    {"jpeg_marker", (PyCFunction)(void (*)(void))jpeg_marker, METH_FASTCALL,
     "jpeg_marker(data: bytes-like, start: int) -> int: the offset of the first JPEG marker "
     "(0xFF then a byte other than 0x00, 0xD0-0xD7, 0xFF) in data at or after start, or -1."},
    {"jpeg_plan", (PyCFunction)(void (*)(void))jpeg_plan, METH_FASTCALL,
     "jpeg_plan(data: bytes, keep_dates: bool, max_pixels: int, max_segments: int, "
     "max_ifds: int, max_entries: int) -> tuple | None: pipeline.media.jpeg's strip of a JPEG "
     "for a policy that drops location, planned in one pass: (pieces, exif_layout, jfif_thumbnail, "
     "icc, adobe, dropped, trailer_at), or None where the Python code is to decide."},
    {"http_head", (PyCFunction)(void (*)(void))http_head, METH_FASTCALL,
     "http_head(head: bytes, response: bool) -> tuple | None: a strictly well-formed, "
     "ASCII-only HTTP/1.x head split up. A request (HTTP/1.1 only): (method, target, "
     "headers); a response: (minor, status, reason, headers); headers a list of (name, "
     "value) with values stripped of SP/HTAB. None for anything else (parse it otherwise)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "detectors._hsnative",
    .m_doc = "Hyperscan candidate scan in C (see detectors/_hsnative.c).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__hsnative(void) {
    init_tchar();
    if (PyType_Ready(&MatcherType) < 0) return NULL;
    if (PyType_Ready(&BodyBufferType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    Py_INCREF(&MatcherType);
    if (PyModule_AddObject(m, "Matcher", (PyObject *)&MatcherType) < 0) {
        Py_DECREF(&MatcherType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&BodyBufferType);
    if (PyModule_AddObject(m, "BodyBuffer", (PyObject *)&BodyBufferType) < 0) {
        Py_DECREF(&BodyBufferType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "HS_FLAG_SOM_LEFTMOST", HS_FLAG_SOM_LEFTMOST) < 0 ||
        PyModule_AddIntConstant(m, "HS_FLAG_UTF8", HS_FLAG_UTF8) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
