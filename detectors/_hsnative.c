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
 * and its upstream's responses) in one pass.
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
    const unsigned char *at = (const unsigned char *)view.buf + start;
    Py_ssize_t len = view.len - start;
    Py_ssize_t found;
    if (len >= MARKER_NOGIL_BYTES) {
        /* The buffer stays valid: the view holds it. No shared state is touched. */
        Py_BEGIN_ALLOW_THREADS
        found = first_jpeg_marker(at, len);
        Py_END_ALLOW_THREADS
    } else {
        found = first_jpeg_marker(at, len);
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(found < 0 ? -1 : start + found);
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
