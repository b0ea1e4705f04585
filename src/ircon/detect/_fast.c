/* C loops for the hot paths of the detectors (module ircon.detect._fast).
 *
 * Every function here has a pure-Python twin that gives the same answers, and
 * the tests compare the two on generated and hostile input; this module only
 * makes them cheaper. It is optional: without a C compiler ircon runs the
 * Python paths.
 *
 * Texts are attacker-written. Nothing here allocates per character, every loop
 * is bounded by the length of its input, and words longer than the longest
 * gate word are hashed no further than they need to be.
 *
 *   Gate(vocab, long_word, max_chars, literals, bare, checks, suspect, leads)
 *       .opened(texts) -> list[bool]     the merged text gate of gate.py, per text
 *   columns(events, app_roles, protected_roles, current_turn)
 *       -> columns, groups by actor, ascending, groups by team, packed times,
 *          packed spend, extraction screens                          (keyed_batch.py)
 *   SuffixGate(tail_chars, min_chars, symbols)(text) -> bool
 *   Trigrams(alphabet, scores).mean(text) -> float | None            (suffix.py)
 *   suffix_tail(tail, vocab), suffix_frags(text, vocab) -> counts    (suffix.py)
 *   group(keys) -> {key: [positions]}                               (keyed_batch.py)
 *   same_items(a, b) -> bool                                         (keyed_batch.py)
 *   last_user_texts(messages) -> [str]                                 (probing.py)
 *   move_touched(d, groups, ts, factory) -> [(state, positions)]    (keyed_batch.py)
 *   spend_batch(pairs, packed_ts, packed_spend, ts, tokens, costs, ...)
 *       -> (crossings, rest)                                          (wallet.py)
 *   probe_batch(det, pairs, packed_ts, screens, ts, params, messages, ...) -> rest
 *                                                                     (probing.py)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "structmember.h"

/* ------------------------------------------------------------------ helpers */

/* A 256-bit set of byte values. */
typedef struct { uint64_t w[4]; } byteset;

static inline void bs_add(byteset *s, unsigned b) { s->w[b >> 6] |= (uint64_t)1 << (b & 63); }
static inline int bs_has(const byteset *s, unsigned b) { return (s->w[b >> 6] >> (b & 63)) & 1; }
static inline int bs_meets(const byteset *a, const byteset *b) {
    return ((a->w[0] & b->w[0]) | (a->w[1] & b->w[1]) | (a->w[2] & b->w[2]) |
            (a->w[3] & b->w[3])) != 0;
}

static int bs_from_bytes(PyObject *obj, byteset *out) {
    memset(out, 0, sizeof(*out));
    if (obj == Py_None) return 0;
    if (!PyBytes_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "expected bytes");
        return -1;
    }
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(obj);
    Py_ssize_t n = PyBytes_GET_SIZE(obj);
    for (Py_ssize_t i = 0; i < n; i++) bs_add(out, p[i]);
    return 0;
}

/* UTF-8 of one code point, surrogates included (as "surrogatepass" writes them). */
static inline int utf8_of(Py_UCS4 c, unsigned char *out) {
    if (c < 0x80) { out[0] = (unsigned char)c; return 1; }
    if (c < 0x800) {
        out[0] = (unsigned char)(0xC0 | (c >> 6));
        out[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (c >> 12));
        out[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (c >> 18));
    out[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

#define EXACT_INT 9007199254740992.0  /* 2**53: ints below compare with floats exactly */

#define WORD_BUF 64  /* longer words are never looked up (see end_word) */

/* A hash of a word of n bytes (n <= WORD_BUF) held in a buffer with at least 8
 * readable bytes past it: 8 bytes at a time, the last load masked. */
static inline uint64_t word_hash(const unsigned char *p, Py_ssize_t n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    while (n > 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t v;
    memcpy(&v, p, 8);
    v &= n == 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8 * n)) - 1);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

/* ------------------------------------------------------------ word breaks */

/* What rules.word_bytes turns into a space: the separators, and whatever
 * str.isspace() calls whitespace. */
static unsigned char ascii_break[128];
#define C_BREAK 1
#define C_LITERAL 2
#define C_SEEN 4     /* a byte some check asks about (see Gate.ascii_class) */
static unsigned char ascii_class[256];  /* C_BREAK for the ASCII breaks */
static unsigned char ascii_lower[256];
static const Py_UCS4 wide_separators[] = {
    0x00a1, 0x00ab, 0x00bb, 0x00bf, 0x2018, 0x2019, 0x201a, 0x201b, 0x201c, 0x201d,
    0x201e, 0x2013, 0x2014, 0x2026, 0x00a0, 0x2009, 0x202f, 0x3000};

static void init_breaks(void) {
    const char *seps = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    memset(ascii_break, 0, sizeof(ascii_break));
    for (const char *p = seps; *p; p++) ascii_break[(unsigned char)*p] = 1;
    for (int c = 0; c < 128; c++)
        if (Py_UNICODE_ISSPACE(c)) ascii_break[c] = 1;
    for (int c = 0; c < 256; c++) {
        ascii_class[c] = c < 128 && ascii_break[c] ? C_BREAK : 0;
        ascii_lower[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
}

static inline int is_break(Py_UCS4 c) {
    if (c < 128) return ascii_break[c];
    if (Py_UNICODE_ISSPACE(c)) return 1;
    for (size_t i = 0; i < sizeof(wide_separators) / sizeof(wide_separators[0]); i++)
        if (wide_separators[i] == c) return 1;
    return 0;
}

/* ------------------------------------------------------------ slot reads */

/* The offset of a plain slot (a __slots__ member) of instances of ``tp``, or -1.
 * Reading it directly is what attribute access does for such a member, minus the
 * look-ups; it also lets a loop prefetch what the slot points to. */
static Py_ssize_t slot_offset(PyTypeObject *tp, PyObject *name) {
    PyObject *d = _PyType_Lookup(tp, name);
    if (d && Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type == T_OBJECT_EX) return m->offset;
    }
    return -1;
}

/* o.name as a new reference: through the slot at ``off`` when o is of type ``tp``. */
static inline PyObject *get_slot(PyObject *o, PyObject *name, PyTypeObject *tp,
                                 Py_ssize_t off) {
    if (off >= 0 && Py_TYPE(o) == tp) {
        PyObject *v = *(PyObject **)((char *)o + off);
        if (v) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(o, name);
}

/* The same, borrowed and without side effects, for prefetching: NULL when unknown. */
static inline PyObject *peek_slot(PyObject *o, PyTypeObject *tp, Py_ssize_t off) {
    return off >= 0 && o && Py_TYPE(o) == tp ? *(PyObject **)((char *)o + off) : NULL;
}

/* Where the plain slot ``name`` of instances of ``tp`` lives, remembered by (type,
 * name): the window steps read and write a few attributes of every key's state
 * object per batch, and generic attribute access looks the name up in the type each
 * time. -1 (use generic access) unless the type keeps the generic attribute access
 * and the name is a writable object slot; an entry holds its type, and is taken
 * only while the type's version tag (changed by any change to the type) is the
 * same. ``name`` must be one of the interned names below (they live as long as the
 * module). */
typedef struct {
    PyTypeObject *tp;
    PyObject *name;
    unsigned int version;
    Py_ssize_t off;
} slot_cache_entry;
#define SLOT_CACHE 64
static slot_cache_entry slot_cache[SLOT_CACHE];

static Py_ssize_t cached_slot(PyTypeObject *tp, PyObject *name) {
    slot_cache_entry *e =
        &slot_cache[(((uintptr_t)tp >> 4) ^ (((uintptr_t)name >> 4) * 31u)) & (SLOT_CACHE - 1)];
    if (e->tp == tp && e->name == name && (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) &&
        e->version == tp->tp_version_tag)
        return e->off;
    Py_ssize_t off = -1;
    if (tp->tp_getattro == PyObject_GenericGetAttr && tp->tp_setattro == PyObject_GenericSetAttr) {
        PyObject *d = _PyType_Lookup(tp, name);
        if (d && Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
            if (m->type == T_OBJECT_EX && !(m->flags & READONLY)) off = m->offset;
        }
    }
    if (!(tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG)) return off;  /* not remembered */
    Py_INCREF(tp);
    Py_XSETREF(e->tp, tp);
    e->name = name;
    e->version = tp->tp_version_tag;
    e->off = off;
    return off;
}

/* o.name as a new reference (PyObject_GetAttr), through the slot when cached_slot
 * knows it. */
static inline PyObject *attr_get(PyObject *o, PyObject *name) {
    Py_ssize_t off = cached_slot(Py_TYPE(o), name);
    if (off >= 0) {
        PyObject *v = *(PyObject **)((char *)o + off);
        if (v) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(o, name);  /* and its AttributeError for an empty slot */
}

/* o.name = v (PyObject_SetAttr; v borrowed), through the slot when cached_slot knows
 * it. */
static inline int attr_set(PyObject *o, PyObject *name, PyObject *v) {
    Py_ssize_t off = cached_slot(Py_TYPE(o), name);
    if (off >= 0 && v) {
        PyObject **slot = (PyObject **)((char *)o + off);
        PyObject *old = *slot;
        Py_INCREF(v);
        *slot = v;
        Py_XDECREF(old);
        return 0;
    }
    return PyObject_SetAttr(o, name, v);
}

#define PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)

static PyObject *py_zero, *py_one;  /* the ints 0 and 1 */

/* The positions of a batch's events as ints, made once and shared by every batch:
 * the groupings and owner lists of a batch hold thousands of them, and a new int per
 * event costs an allocation now and a free, of a line no longer in cache, later. */
#define POSITIONS 16384
static PyObject *positions[POSITIONS];

/* A new reference to the int ``i`` (>= 0). */
static PyObject *position(Py_ssize_t i) {
    if (i < 0 || i >= POSITIONS) return PyLong_FromSsize_t(i);
    PyObject *v = positions[i];
    if (!v) {
        v = positions[i] = PyLong_FromSsize_t(i);
        if (!v) return NULL;
    }
    Py_INCREF(v);
    return v;
}

/* ------------------------------------------------------------------- Gate */

typedef struct {
    uint64_t hash;
    Py_ssize_t len;     /* bytes */
    const char *word;   /* into the vocab's bytes objects (kept alive by the Gate) */
    int single;         /* opens alone */
    int rot13;          /* two distinct ones open */
    uint64_t *anchor;   /* pair bit sets (npair_words each), or NULL */
    uint64_t *other;
} vocab_entry;

typedef struct {
    Py_UCS4 first;
    Py_ssize_t len;     /* code points */
    Py_UCS4 *chars;
} literal_entry;

/* SuffixGate(tail_chars, min_chars, symbols)(text) -> bool: SuffixDetector.gate.
 * Over the last tail_chars characters: no symbol -> False; a case flip ([a-z][A-Z])
 * -> True; fewer than three symbols -> False; else: are ()/[]/{} unbalanced?
 * The C gate calls it without going through Python. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t tail;
    Py_ssize_t min_chars;
    unsigned char cls[256];  /* SFX_* (0 from 128 on) */
} SuffixGateObject;

/* per ASCII character: 1 symbol, 2 lowercase letter, 4 uppercase letter; the bracket
 * number (1-6 for ( ) [ ] { }) in the bits above */
#define SFX_SYMBOL 1
#define SFX_LOWER 2
#define SFX_UPPER 4
#define SFX_BRACKET_SHIFT 3
static PyTypeObject SuffixGateType;

#define BLOOM_BITS 65536

typedef struct {
    PyObject_HEAD
    PyObject *keep;          /* the vocab list: its bytes objects back the entries */
    vocab_entry *entries;
    Py_ssize_t nentries;
    Py_ssize_t *table;       /* open addressing: index into entries, -1 empty */
    uint64_t bloom[BLOOM_BITS / 64];  /* two bits per word: most words miss here */
    Py_ssize_t mask;
    Py_ssize_t max_word;     /* longest vocab word, bytes */
    Py_ssize_t min_word;     /* shortest vocab word, bytes */
    Py_ssize_t npair_words;  /* uint64 words per pair bit set */
    uint64_t *pair_pool;
    Py_ssize_t long_word;    /* 0: off */
    Py_ssize_t max_chars;
    literal_entry *literals;
    Py_ssize_t nliterals;
    byteset literal_firsts;  /* ASCII first characters of literals */
    /* C_BREAK, C_LITERAL (a literal's first), C_SEEN (a byte of ``bare`` or of a
     * check's bytes: the ASCII scan notes only those as present) */
    unsigned char ascii_class[256];
    int wide_literal;        /* some literal starts with a non-ASCII character */
    byteset bare;
    PyObject *checks;        /* tuple of callables */
    byteset *check_bytes;    /* per check */
    int *check_any;          /* per check: no byte condition */
    PyObject *suspect;       /* tuple of compiled patterns */
    byteset leads;
    int leads_all;           /* no lead byte condition */
    /* the check that is a SuffixGate, if one is (-1: none): for ASCII texts the scan
     * counts its symbols and brackets itself (see suffix_from_scan) */
    Py_ssize_t sfx_check;
    const SuffixGateObject *sfx;
} GateObject;

static void gate_dealloc(GateObject *self) {
    Py_XDECREF(self->keep);
    Py_XDECREF(self->checks);
    Py_XDECREF(self->suspect);
    PyMem_Free(self->entries);
    PyMem_Free(self->table);
    PyMem_Free(self->pair_pool);
    if (self->literals) {
        for (Py_ssize_t i = 0; i < self->nliterals; i++) PyMem_Free(self->literals[i].chars);
        PyMem_Free(self->literals);
    }
    PyMem_Free(self->check_bytes);
    PyMem_Free(self->check_any);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static uint64_t hash_bytes(const char *p, Py_ssize_t n) {
    unsigned char buf[WORD_BUF + 8];
    memset(buf, 0, sizeof(buf));
    memcpy(buf, p, n);
    return word_hash(buf, n);
}

static int set_pair_bits(PyObject *seq, uint64_t *bits, Py_ssize_t npairs) {
    PyObject *fast = PySequence_Fast(seq, "pair ids must be a sequence");
    if (!fast) return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
        Py_ssize_t k = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(fast, i));
        if (k == -1 && PyErr_Occurred()) { Py_DECREF(fast); return -1; }
        if (k < 0 || k >= npairs) {
            Py_DECREF(fast);
            PyErr_SetString(PyExc_ValueError, "pair id out of range");
            return -1;
        }
        bits[k >> 6] |= (uint64_t)1 << (k & 63);
    }
    Py_DECREF(fast);
    return 0;
}

/* Gate(vocab, npairs, long_word, max_chars, literals, bare, checks, suspect, leads)
 *   vocab: list of (word: bytes, single: bool, rot13: bool, anchor_pairs, other_pairs)
 *   literals: list of str; bare, leads: bytes (leads None: no condition)
 *   checks: list of (callable, bytes | None); suspect: list of compiled patterns */
static int gate_init(GateObject *self, PyObject *args, PyObject *kwds) {
    PyObject *vocab, *literals, *bare, *checks, *suspect, *leads;
    Py_ssize_t npairs, long_word, max_chars;
    if (!PyArg_ParseTuple(args, "O!nnnO!SO!O!O", &PyList_Type, &vocab, &npairs, &long_word,
                          &max_chars, &PyList_Type, &literals, &bare, &PyList_Type, &checks,
                          &PyList_Type, &suspect, &leads))
        return -1;
    if (self->keep) {
        PyErr_SetString(PyExc_RuntimeError, "Gate is initialized once");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(vocab);
    self->keep = PyList_GetSlice(vocab, 0, n);  /* a copy: the caller may change its list */
    if (!self->keep) return -1;
    self->nentries = n;
    self->min_word = self->max_word = 0;
    self->entries = PyMem_Calloc(n ? n : 1, sizeof(vocab_entry));
    Py_ssize_t size = 16;
    while (size < 2 * n + 16) size <<= 1;
    self->table = PyMem_Malloc(size * sizeof(Py_ssize_t));
    self->mask = size - 1;
    self->npair_words = (npairs + 63) / 64;
    self->pair_pool = PyMem_Calloc(2 * (n ? n : 1) * (self->npair_words ? self->npair_words : 1),
                                   sizeof(uint64_t));
    if (!self->entries || !self->table || !self->pair_pool) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i <= self->mask; i++) self->table[i] = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(self->keep, i);
        PyObject *word, *apairs, *opairs;
        int single, rot13;
        if (!PyTuple_Check(item) ||
            !PyArg_ParseTuple(item, "SppOO", &word, &single, &rot13, &apairs, &opairs)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "bad vocab entry");
            return -1;
        }
        vocab_entry *e = &self->entries[i];
        e->word = PyBytes_AS_STRING(word);
        e->len = PyBytes_GET_SIZE(word);
        if (e->len == 0 || e->len > WORD_BUF) {
            PyErr_SetString(PyExc_ValueError, "gate words are 1 to 64 bytes");
            return -1;
        }
        e->hash = hash_bytes(e->word, e->len);
        e->single = single;
        e->rot13 = rot13;
        if (e->len > self->max_word) self->max_word = e->len;
        if (self->min_word == 0 || e->len < self->min_word) self->min_word = e->len;
        if (PyObject_Length(apairs) > 0) {
            e->anchor = self->pair_pool + (2 * i) * self->npair_words;
            if (set_pair_bits(apairs, e->anchor, npairs) < 0) return -1;
        } else if (PyErr_Occurred()) return -1;
        if (PyObject_Length(opairs) > 0) {
            e->other = self->pair_pool + (2 * i + 1) * self->npair_words;
            if (set_pair_bits(opairs, e->other, npairs) < 0) return -1;
        } else if (PyErr_Occurred()) return -1;
        self->bloom[(e->hash >> 6) & (BLOOM_BITS / 64 - 1)] |= (uint64_t)1 << (e->hash & 63);
        self->bloom[(e->hash >> 42) & (BLOOM_BITS / 64 - 1)] |= (uint64_t)1 << ((e->hash >> 36) & 63);
        Py_ssize_t slot = (Py_ssize_t)(e->hash & (uint64_t)self->mask);
        while (self->table[slot] >= 0) {
            vocab_entry *o = &self->entries[self->table[slot]];
            if (o->len == e->len && memcmp(o->word, e->word, e->len) == 0) {
                PyErr_SetString(PyExc_ValueError, "a word is listed twice");
                return -1;
            }
            slot = (slot + 1) & self->mask;
        }
        self->table[slot] = i;
    }
    self->long_word = long_word;
    self->max_chars = max_chars;
    /* literals, as code points: a UTF-8 literal of whole characters is found in UTF-8
     * exactly where its characters are found in the text */
    self->nliterals = PyList_GET_SIZE(literals);
    self->literals = PyMem_Calloc(self->nliterals ? self->nliterals : 1, sizeof(literal_entry));
    if (!self->literals) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < self->nliterals; i++) {
        PyObject *lit = PyList_GET_ITEM(literals, i);
        if (!PyUnicode_Check(lit) || PyUnicode_GET_LENGTH(lit) == 0) {
            PyErr_SetString(PyExc_TypeError, "literals must be non-empty str");
            return -1;
        }
        literal_entry *le = &self->literals[i];
        le->chars = PyUnicode_AsUCS4Copy(lit);
        if (!le->chars) return -1;
        le->len = PyUnicode_GET_LENGTH(lit);
        le->first = le->chars[0];
        if (le->first < 128) bs_add(&self->literal_firsts, le->first);
        else self->wide_literal = 1;
    }
    for (int c = 0; c < 256; c++)
        self->ascii_class[c] = (unsigned char)(ascii_class[c] |
                                               (bs_has(&self->literal_firsts, c) ? C_LITERAL : 0));
    if (bs_from_bytes(bare, &self->bare) < 0) return -1;
    Py_ssize_t nchecks = PyList_GET_SIZE(checks);
    self->checks = PyTuple_New(nchecks);
    self->check_bytes = PyMem_Calloc(nchecks ? nchecks : 1, sizeof(byteset));
    self->check_any = PyMem_Calloc(nchecks ? nchecks : 1, sizeof(int));
    if (!self->checks || !self->check_bytes || !self->check_any) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < nchecks; i++) {
        PyObject *item = PyList_GET_ITEM(checks, i);
        PyObject *fn, *cb;
        if (!PyTuple_Check(item) || !PyArg_ParseTuple(item, "OO", &fn, &cb)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "bad check entry");
            return -1;
        }
        Py_INCREF(fn);
        PyTuple_SET_ITEM(self->checks, i, fn);
        self->check_any[i] = cb == Py_None;
        if (bs_from_bytes(cb, &self->check_bytes[i]) < 0) return -1;
    }
    self->sfx_check = -1;
    for (Py_ssize_t i = 0; i < nchecks && self->sfx_check < 0; i++) {
        PyObject *fn = PyTuple_GET_ITEM(self->checks, i);
        if (Py_TYPE(fn) == &SuffixGateType) {  /* held by self->checks */
            self->sfx_check = i;
            self->sfx = (const SuffixGateObject *)fn;
        }
    }
    for (int c = 0; c < 128; c++) {
        int asked = bs_has(&self->bare, c);
        for (Py_ssize_t i = 0; i < nchecks && !asked; i++)
            asked = bs_has(&self->check_bytes[i], c);
        if (asked) self->ascii_class[c] |= C_SEEN;
    }
    self->suspect = PyList_AsTuple(suspect);
    if (!self->suspect) return -1;
    self->leads_all = leads == Py_None;
    if (bs_from_bytes(leads, &self->leads) < 0) return -1;
    return 0;
}

static inline const vocab_entry *lookup(const GateObject *g, uint64_t h, const char *w,
                                        Py_ssize_t n) {
    if (!((g->bloom[(h >> 6) & (BLOOM_BITS / 64 - 1)] >> (h & 63)) & 1) ||
        !((g->bloom[(h >> 42) & (BLOOM_BITS / 64 - 1)] >> ((h >> 36) & 63)) & 1))
        return NULL;
    Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)g->mask);
    Py_ssize_t k;
    while ((k = g->table[slot]) >= 0) {
        const vocab_entry *e = &g->entries[k];
        if (e->hash == h && e->len == n && memcmp(e->word, w, n) == 0) return e;
        slot = (slot + 1) & g->mask;
    }
    return NULL;
}

/* The scan of one text: its words (looked up as they end), the bytes of its
 * UTF-8, the literals found. */
typedef struct {
    const GateObject *g;
    uint64_t *anchors;   /* pair bits of anchor words seen */
    uint64_t *others;    /* pair bits of other-side words seen */
    const vocab_entry *rot13_first;
    unsigned char buf[WORD_BUF + 8];  /* the current word (+8: whole-word loads) */
    Py_ssize_t len;      /* its length in bytes (keeps counting past buf) */
    byteset seen;        /* byte values present in the text's UTF-8 (for ASCII texts:
                          * those some check asks about) */
} scan_state;

static void scan_start(scan_state *s, const GateObject *g, uint64_t *pairbuf) {
    s->g = g;
    s->anchors = pairbuf;
    s->others = pairbuf + g->npair_words;
    memset(pairbuf, 0, 2 * g->npair_words * sizeof(uint64_t));
    s->rot13_first = NULL;
    s->len = 0;
    memset(&s->seen, 0, sizeof(s->seen));
}

static int word_found(scan_state *s, const vocab_entry *e);

/* The current word ended: look it up. Returns 1 when the text opens. */
static inline int end_word(scan_state *s) {
    const GateObject *g = s->g;
    Py_ssize_t n = s->len;
    s->len = 0;
    if (g->long_word && n >= g->long_word) return 1;
    if (n > g->max_word) return 0;
    const vocab_entry *e = lookup(g, word_hash(s->buf, n), (const char *)s->buf, n);
    return e ? word_found(s, e) : 0;
}

/* Eight ASCII bytes with their capitals lowercased, all at once: a byte gets 0x20
 * when it is at least 'A' and not above 'Z' (no byte carries into the next). */
static inline uint64_t ascii_lower8(uint64_t v) {
    uint64_t ge_a = v + 0x3f3f3f3f3f3f3f3fULL;   /* bit 7 set from 'A' (0x41) up */
    uint64_t gt_z = v + 0x2525252525252525ULL;   /* bit 7 set from '[' (0x5b) up */
    return v | (((ge_a & ~gt_z) & 0x8080808080808080ULL) >> 2);
}

/* The table look-up of an ASCII word (not lowercased) whose hash passed the bloom
 * filter. */
static int ascii_probe(scan_state *s, const unsigned char *w, Py_ssize_t len, uint64_t h) {
    const GateObject *g = s->g;
    Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)g->mask);
    Py_ssize_t k;
    while ((k = g->table[slot]) >= 0) {
        const vocab_entry *e = &g->entries[k];
        if (e->hash == h && e->len == len) {
            Py_ssize_t j = 0;
            while (j < len && ascii_lower[w[j]] == (unsigned char)e->word[j]) j++;
            if (j == len) return word_found(s, e);
        }
        slot = (slot + 1) & g->mask;
    }
    return 0;
}

/* The word text[start:start + len] of an ASCII text of n characters, looked up as
 * its lowercase form without copying it: the same hash as word_hash of that form,
 * read from the text (the last load reads up to the NUL that ends the text's data,
 * else it is copied), and compared a byte at a time when the hash is known. */
static inline __attribute__((always_inline)) int ascii_word(
        scan_state *s, const unsigned char *text, Py_ssize_t n, Py_ssize_t start,
        Py_ssize_t len) {
    const GateObject *g = s->g;
    if (g->long_word && len >= g->long_word) return 1;
    if (len > g->max_word || len < g->min_word) return 0;  /* "a", "I": in no vocabulary */
    const unsigned char *q = text + start;
    Py_ssize_t m = len;
    uint64_t h = (uint64_t)len * 0x9E3779B97F4A7C15ULL, v;
    while (m > 8) {
        memcpy(&v, q, 8);
        h = (h ^ ascii_lower8(v)) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        q += 8;
        m -= 8;
    }
    if (q + 8 <= text + n + 1) {
        memcpy(&v, q, 8);
    } else {
        v = 0;
        memcpy(&v, q, (size_t)m);
    }
    v = ascii_lower8(v) & (m == 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8 * m)) - 1));
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    if (!((g->bloom[(h >> 6) & (BLOOM_BITS / 64 - 1)] >> (h & 63)) & 1) ||
        !((g->bloom[(h >> 42) & (BLOOM_BITS / 64 - 1)] >> ((h >> 36) & 63)) & 1))
        return 0;  /* most words: not in the vocabulary */
    return ascii_probe(s, text + start, len, h);
}

/* A word of the vocabulary was found: 1 when that opens the text. */
static int word_found(scan_state *s, const vocab_entry *e) {
    const GateObject *g = s->g;
    if (e->single) return 1;
    if (e->rot13) {
        if (s->rot13_first == NULL) s->rot13_first = e;
        else if (s->rot13_first != e) return 1;
    }
    if (e->anchor || e->other) {
        int hit = 0;
        for (Py_ssize_t i = 0; i < g->npair_words; i++) {
            if (e->anchor) s->anchors[i] |= e->anchor[i];
            if (e->other) s->others[i] |= e->other[i];
            hit |= (s->anchors[i] & s->others[i]) != 0;
        }
        if (hit) return 1;
    }
    return 0;
}

static inline void add_byte(scan_state *s, unsigned char b) {
    if (s->len < WORD_BUF) s->buf[s->len] = b;
    s->len++;
}

/* A literal starts at ``i`` of the text (compared as code points). */
static int literal_at(const GateObject *g, int kind, const void *data, Py_ssize_t n,
                      Py_ssize_t i, Py_UCS4 c) {
    for (Py_ssize_t k = 0; k < g->nliterals; k++) {
        const literal_entry *le = &g->literals[k];
        if (le->first != c || le->len > n - i) continue;
        Py_ssize_t j = 1;
        while (j < le->len && PyUnicode_READ(kind, data, i + j) == le->chars[j]) j++;
        if (j == le->len) return 1;
    }
    return 0;
}

/* The words of a lowercase text (kind 1, 2 or 4): 1 when they open the gate. */
static int scan_words(scan_state *s, PyObject *low) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(low);
    int kind = PyUnicode_KIND(low);
    const void *data = PyUnicode_DATA(low);
    unsigned char u[4];
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (is_break(c)) {
            if (s->len && end_word(s)) return 1;
        } else if (c < 128) {
            add_byte(s, (unsigned char)c);
        } else {
            int k = utf8_of(c, u);
            for (int j = 0; j < k; j++) add_byte(s, u[j]);
        }
    }
    return s->len && end_word(s);
}

/* Whether str.lower() of a character can be had one character at a time: all but
 * the capital sigma, whose lowercase depends on its neighbours. */
#if PY_VERSION_HEX < 0x030D0000
#define HAVE_LOWER_FULL 1
#else
#define HAVE_LOWER_FULL 0
#endif

/* One pass over a text that is not ASCII: the bytes of its UTF-8, literals and (when
 * ``words``) its words, each character lowercased as str.lower() does. Returns 1
 * (opens), 0, or 2: the words need str.lower() of the whole text. */
#define SCAN_WIDE(T)                                                                  \
    for (Py_ssize_t i = 0; i < n; i++) {                                              \
        Py_UCS4 c = ((const T *)data)[i];                                             \
        if (c < 128) {                                                                \
            bs_add(&s->seen, c);                                                      \
            if (bs_has(&g->literal_firsts, c) && literal_at(g, kind, data, n, i, c))  \
                return 1;                                                             \
            if (!words) continue;                                                     \
            if (ascii_class[c] & C_BREAK) {                                           \
                if (s->len && end_word(s)) return 1;                                  \
            } else {                                                                  \
                add_byte(s, ascii_lower[c]);                                          \
            }                                                                         \
            continue;                                                                 \
        }                                                                             \
        int k = utf8_of(c, u);                                                        \
        for (int j = 0; j < k; j++) bs_add(&s->seen, u[j]);                           \
        if (g->wide_literal && literal_at(g, kind, data, n, i, c)) return 1;          \
        if (!words) continue;                                                         \
        if (!HAVE_LOWER_FULL || c == 0x3A3) {                                         \
            words = 0;                                                                \
            slow = 1;                                                                 \
            continue;                                                                 \
        }                                                                             \
        int m = lower_full(c, low);                                                   \
        for (int q = 0; q < m; q++) {                                                 \
            Py_UCS4 d = low[q];                                                       \
            if (is_break(d)) {                                                        \
                if (s->len && end_word(s)) return 1;                                  \
            } else {                                                                  \
                int kk = utf8_of(d, u);                                               \
                for (int j = 0; j < kk; j++) add_byte(s, u[j]);                       \
            }                                                                         \
        }                                                                             \
    }

static inline int lower_full(Py_UCS4 c, Py_UCS4 *out) {
#if HAVE_LOWER_FULL
    return _PyUnicode_ToLowerFull(c, out);
#else
    out[0] = c;
    return 1;
#endif
}

static int scan_wide(scan_state *s, PyObject *text) {
    const GateObject *g = s->g;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    int words = g->nentries || g->long_word;
    int want_words = words;
    int slow = 0;
    unsigned char u[4];
    Py_UCS4 low[3];
    if (kind == PyUnicode_1BYTE_KIND) {
        SCAN_WIDE(Py_UCS1)
    } else if (kind == PyUnicode_2BYTE_KIND) {
        SCAN_WIDE(Py_UCS2)
    } else {
        SCAN_WIDE(Py_UCS4)
    }
    if (words && s->len && end_word(s)) return 1;
    if (slow && want_words) {
        /* start the words over, on str.lower() of the whole text */
        memset(s->anchors, 0, 2 * g->npair_words * sizeof(uint64_t));
        s->rot13_first = NULL;
        s->len = 0;
        PyObject *lowered = PyObject_CallMethod(text, "lower", NULL);
        if (!lowered) return -1;
        int r = scan_words(s, lowered);
        Py_DECREF(lowered);
        if (r) return 1;
    }
    return 0;
}

static inline int seen_any(const scan_state *s, const byteset *set) {
    return bs_meets(&s->seen, set);
}

static PyTypeObject SuffixGateType;
static int suffix_judge_any(PyObject *fn, PyObject *text);

static int truthy_call(PyObject *fn, PyObject *arg) {
    if (Py_TYPE(fn) == &SuffixGateType) return suffix_judge_any(fn, arg);
    PyObject *r = PyObject_CallOneArg(fn, arg);
    if (!r) return -1;
    int t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

/* SuffixGate's answer for an ASCII text whose tail's symbols and brackets the scan
 * counted (see suffix_judge, which gives the same): the case flips are looked for
 * only when the counts do not settle it. */
static int suffix_from_scan(const SuffixGateObject *sg, PyObject *text, Py_ssize_t nsym,
                            const Py_ssize_t *br) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (n < sg->min_chars || nsym == 0) return 0;
    const unsigned char *p = PyUnicode_1BYTE_DATA(text);
    for (Py_ssize_t i = (sg->tail < n ? n - sg->tail : 0) + 1; i < n; i++)
        if (p[i - 1] >= 'a' && p[i - 1] <= 'z' && p[i] >= 'A' && p[i] <= 'Z') return 1;
    if (nsym < 3) return 0;
    return br[1] != br[2] || br[3] != br[4] || br[5] != br[6];
}

/* 1: the text opens the gate; 0: quiet; -1: error */
static int gate_opens(const GateObject *g, PyObject *text, scan_state *s, uint64_t *pairbuf) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "texts must be str");
        return -1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (n > g->max_chars) return 1;
    scan_start(s, g, pairbuf);
    int ascii = PyUnicode_IS_ASCII(text);
    /* the SuffixGate check's symbols and brackets in its tail, counted by the scan */
    Py_ssize_t sfx_nsym = 0, sfx_br[8] = {0};
    if (ascii) {
        /* one pass: words (looked up in place as they end), the bytes some check
         * asks about, literals. A letter or digit (class 0) costs one load and one
         * test; the loop state is in locals (stores to the byte arrays may alias
         * any field). */
        const unsigned char *p = PyUnicode_DATA(text);
        const unsigned char *cls = g->ascii_class;
        uint64_t seen0 = 0, seen1 = 0;  /* the bytes asked about: 0-63, 64-127 */
        int words = g->nentries || g->long_word;
        Py_ssize_t start = -1;  /* where the current word began, -1: between words */
        const SuffixGateObject *sfx = g->sfx;
        Py_ssize_t sfx_start = !sfx ? n : sfx->tail < n ? n - sfx->tail : 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char c = p[i];
            unsigned char k = cls[c];
            if (k == 0) {
                if (start < 0) start = i;
                continue;
            }
            if (k & C_SEEN) {
                if (c < 64) seen0 |= (uint64_t)1 << c;
                else seen1 |= (uint64_t)1 << (c - 64);
            }
            if (i >= sfx_start) {  /* symbols and brackets are never letters or digits */
                unsigned sk = sfx->cls[c];
                sfx_nsym += sk & SFX_SYMBOL;
                if (sk >> SFX_BRACKET_SHIFT) sfx_br[sk >> SFX_BRACKET_SHIFT]++;
            }
            if ((k & C_LITERAL) && literal_at(g, PyUnicode_1BYTE_KIND, p, n, i, c)) return 1;
            if (k & C_BREAK) {
                if (start >= 0) {
                    if (words && ascii_word(s, p, n, start, i - start)) return 1;
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
        }
        if (start >= 0 && words && ascii_word(s, p, n, start, n - start)) return 1;
        s->seen.w[0] = seen0;
        s->seen.w[1] = seen1;
    } else {
        int r = scan_wide(s, text);
        if (r) return r;
    }
    if (seen_any(s, &g->bare)) return 1;
    Py_ssize_t nchecks = PyTuple_GET_SIZE(g->checks);
    for (Py_ssize_t i = 0; i < nchecks; i++) {
        if (!g->check_any[i] && !seen_any(s, &g->check_bytes[i])) continue;
        int t = ascii && i == g->sfx_check
                    ? suffix_from_scan(g->sfx, text, sfx_nsym, sfx_br)
                    : truthy_call(PyTuple_GET_ITEM(g->checks, i), text);
        if (t) return t;
    }
    Py_ssize_t nsus = PyTuple_GET_SIZE(g->suspect);
    if (!ascii && nsus && (g->leads_all || seen_any(s, &g->leads))) {
        for (Py_ssize_t i = 0; i < nsus; i++) {
            PyObject *m = PyObject_CallMethod(PyTuple_GET_ITEM(g->suspect, i), "search", "O",
                                              text);
            if (!m) return -1;
            int found = m != Py_None;
            Py_DECREF(m);
            if (found) return 1;
        }
    }
    return 0;
}

static PyObject *gate_opened(GateObject *self, PyObject *texts) {
    PyObject *fast = PySequence_Fast(texts, "texts must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject *out = PyList_New(n);
    uint64_t *pairbuf = PyMem_Calloc(2 * (self->npair_words ? self->npair_words : 1),
                                     sizeof(uint64_t));
    scan_state *state = PyMem_Malloc(sizeof(scan_state));
    if (!out || !pairbuf || !state) {
        Py_DECREF(fast);
        Py_XDECREF(out);
        PyMem_Free(pairbuf);
        PyMem_Free(state);
        return PyErr_NoMemory();
    }
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + 4 < n) {  /* the text after next: its header and first characters */
            const char *ahead = (const char *)items[i + 4];
            PREFETCH(ahead);
            PREFETCH(ahead + 64);
            PREFETCH(ahead + 128);
            PREFETCH(ahead + 192);
        }
        int r = gate_opens(self, items[i], state, pairbuf);
        if (r < 0) {
            Py_DECREF(fast);
            Py_DECREF(out);
            PyMem_Free(pairbuf);
            PyMem_Free(state);
            return NULL;
        }
        PyObject *b = r ? Py_True : Py_False;
        Py_INCREF(b);
        PyList_SET_ITEM(out, i, b);
    }
    Py_DECREF(fast);
    PyMem_Free(pairbuf);
    PyMem_Free(state);
    return out;
}

static PyMethodDef gate_methods[] = {
    {"opened", (PyCFunction)gate_opened, METH_O,
     "opened(texts) -> list[bool]: which texts open the merged gate."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject GateType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ircon.detect._fast.Gate",
    .tp_basicsize = sizeof(GateObject),
    .tp_dealloc = (destructor)gate_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The merged text gate (see gate.MergedGate), per text in C.",
    .tp_methods = gate_methods,
    .tp_init = (initproc)gate_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------- turn texts */

static PyObject *s_messages, *s_role, *s_content, *s_user, *s_assistant;
static PyObject *s_start, *s_tokens, *s_cost, *s_base_tokens, *s_base_cost, *s_windows,
    *s_reported;

/* Where a message type keeps its role and content (see slot_offset). */
typedef struct {
    PyTypeObject *tp;
    Py_ssize_t role, content;
} msg_slots;

static void find_msg_slots(PyObject *msg, msg_slots *out) {
    out->tp = Py_TYPE(msg);
    out->role = slot_offset(out->tp, s_role);
    out->content = slot_offset(out->tp, s_content);
}

static int role_is(PyObject *msg, PyObject *name, PyObject **role_out, const msg_slots *ms) {
    PyObject *role = get_slot(msg, s_role, ms->tp, ms->role);
    if (!role) return -1;
    int eq = PyUnicode_Check(role) && PyUnicode_Compare(role, name) == 0;
    if (role_out) *role_out = role;
    else Py_DECREF(role);
    return eq;
}

/* The new-turn text of one event of the usual shape (one new caller message last:
 * after an answer, alone, or after the application's own prompt only) into *text
 * (a new reference; "" for no messages); else *text = NULL and its new-turn texts
 * are appended to more_t (their owner ``owner`` to more_o) from current_turn(ev). */
static int turn_of(PyObject *ev, PyObject *ms, Py_ssize_t owner, PyObject *app_roles,
                   PyObject *current_turn, PyObject *more_t, PyObject *more_o,
                   PyObject **text, const msg_slots *slots) {
    *text = NULL;
    Py_ssize_t nm = PySequence_Fast_GET_SIZE(ms);
    if (nm == 0) {
        *text = PyUnicode_New(0, 0);
        return *text ? 0 : -1;
    }
    PyObject *last = PySequence_Fast_GET_ITEM(ms, nm - 1);
    int usual = role_is(last, s_user, NULL, slots);
    if (usual > 0 && nm > 1) {
        int a = role_is(PySequence_Fast_GET_ITEM(ms, nm - 2), s_assistant, NULL, slots);
        if (a < 0) usual = -1;
        else if (!a) {
            usual = 0;
            if (nm == 2) {
                PyObject *role = get_slot(PySequence_Fast_GET_ITEM(ms, 0), s_role, slots->tp,
                                          slots->role);
                if (!role) usual = -1;
                else {
                    usual = PySequence_Contains(app_roles, role);
                    Py_DECREF(role);
                }
            }
        }
    }
    if (usual < 0) return -1;
    if (usual) {
        *text = get_slot(last, s_content, slots->tp, slots->content);
        return *text ? 0 : -1;
    }
    PyObject *turn = PyObject_CallOneArg(current_turn, ev);
    if (!turn) return -1;
    PyObject *tf = PySequence_Fast(turn, "current_turn must give a sequence");
    Py_DECREF(turn);
    if (!tf) return -1;
    PyObject *pos = position(owner);
    int rc = pos ? 0 : -1;
    for (Py_ssize_t k = 0; rc == 0 && k < PySequence_Fast_GET_SIZE(tf); k++) {
        PyObject *item = PySequence_Fast_GET_ITEM(tf, k);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
            PyErr_SetString(PyExc_TypeError, "current_turn items are triples");
            rc = -1;
        } else if (PyList_Append(more_t, PyTuple_GET_ITEM(item, 2)) < 0 ||
                   PyList_Append(more_o, pos) < 0) {
            rc = -1;
        }
    }
    Py_XDECREF(pos);
    Py_DECREF(tf);
    if (rc == 0) {
        *text = PyUnicode_New(0, 0);
        if (!*text) rc = -1;
    }
    return rc;
}

/* texts + more texts, and their owners: 0, 1, ... then more_o */
static PyObject *turn_result(PyObject *texts, PyObject *more_t, PyObject *more_o) {
    Py_ssize_t nt = PyList_GET_SIZE(texts), nmore = PyList_GET_SIZE(more_t);
    PyObject *owners = PyList_New(nt + nmore);
    if (!owners) return NULL;
    for (Py_ssize_t i = 0; i < nt; i++) {
        PyObject *v = position(i);
        if (!v) { Py_DECREF(owners); return NULL; }
        PyList_SET_ITEM(owners, i, v);
    }
    for (Py_ssize_t i = 0; i < nmore; i++) {
        PyObject *v = PyList_GET_ITEM(more_o, i);
        Py_INCREF(v);
        PyList_SET_ITEM(owners, nt + i, v);
        if (PyList_Append(texts, PyList_GET_ITEM(more_t, i)) < 0) {
            Py_DECREF(owners);
            return NULL;
        }
    }
    return owners;
}

/* ----------------------------------------------------- request parameters */

static PyObject *s_count, *s_extraction, *s_baseline, *s_busy, *s_early, *s_unjudged, *s_pending,
    *s_settle, *s_extraction_like, *s_count_extraction, *s_judge, *s_close_busy,
    *s_logprobs, *s_top_logprobs, *s_logit_bias_size, *s_n, *s_temperature;

/* Where RequestParams keeps the fields the extraction screen reads (see
 * slot_offset); found from a batch's first parameters. */
enum { P_LOGPROBS, P_TOP_LOGPROBS, P_LOGIT_BIAS_SIZE, P_N, P_TEMPERATURE, NPARAMS };

typedef struct {
    PyTypeObject *tp;
    Py_ssize_t off[NPARAMS];
} params_slots;

static void find_params_slots(PyObject *p, params_slots *out) {
    PyObject *names[NPARAMS] = {s_logprobs, s_top_logprobs, s_logit_bias_size, s_n,
                                s_temperature};
    out->tp = Py_TYPE(p);
    for (int k = 0; k < NPARAMS; k++) out->off[k] = slot_offset(out->tp, names[k]);
}

/* (p.logprobs or p.top_logprobs or p.logit_bias_size or (p.n or 1) > 1
 *  or p.temperature == 0): the screen before ProbingDetector._extraction_like */
/* The truth of v when it is None, a bool or an exact int (no code of its own runs):
 * 0 or 1; else -2 (ask Python). */
static inline int plain_truth(PyObject *v) {
    if (v == Py_None || v == Py_False) return 0;
    if (v == Py_True) return 1;
    if (PyLong_CheckExact(v)) return PyObject_IsTrue(v);  /* cannot fail for an int */
    return -2;
}

static int extraction_screen(PyObject *p, const params_slots *ps) {
    PyObject *names[3] = {s_logprobs, s_top_logprobs, s_logit_bias_size};
    for (int k = 0; k < 3; k++) {
        PyObject *v = get_slot(p, names[k], ps->tp, ps->off[k]);
        if (!v) return -1;
        int t = plain_truth(v);
        if (t == -2) t = PyObject_IsTrue(v);
        Py_DECREF(v);
        if (t) return t;
    }
    PyObject *v = get_slot(p, s_n, ps->tp, ps->off[P_N]);
    if (!v) return -1;
    int t = plain_truth(v);
    if (t == -2) {
        t = PyObject_IsTrue(v);
        if (t > 0) t = PyObject_RichCompareBool(v, py_one, Py_GT);
    } else if (t > 0) {  /* n > 1 of a bool or an int */
        t = v == Py_True ? 0 : PyObject_RichCompareBool(v, py_one, Py_GT);
    }
    Py_DECREF(v);
    if (t) return t;
    v = get_slot(p, s_temperature, ps->tp, ps->off[P_TEMPERATURE]);
    if (!v) return -1;
    if (v == Py_None) t = 0;
    else if (PyFloat_CheckExact(v)) t = PyFloat_AS_DOUBLE(v) == 0.0;
    else t = PyObject_RichCompareBool(v, py_zero, Py_EQ);
    Py_DECREF(v);
    return t;
}

/* --------------------------------------------------------------- columns */

static PyObject *s_ts, *s_key, *s_user_attr, *s_ip, *s_team, *s_params, *s_response,
    *s_prompt_tokens, *s_completion_tokens, *s_unknown;

enum { COL_TS, COL_ACTORS, COL_TEAMS, COL_PARAMS, COL_MESSAGES, COL_RESPONSES, COL_PTOK,
       COL_CTOK, COL_COSTS, COL_TEXTS, COL_PROT, COL_PROT_OWNERS, NCOLS };
/* Columns that only the packed forms (spend, screens) are made of: ``columns`` reads
 * them while the event is in cache and keeps no list (None in its place); the Python
 * steps that need one make it from the events (keyed_batch.Columns). A list would
 * take a reference to each event's cost and parameters, to be dropped when the batch
 * is done, by then out of cache. */
#define IS_READ_ONLY(c) ((c) == COL_PARAMS || (c) == COL_PTOK || (c) == COL_CTOK || \
                         (c) == COL_COSTS)

/* groups[key].append(pos), a new list for a new key (see group). */
static int add_position(PyObject *groups, PyObject *key, PyObject *pos) {
    PyObject *lst = PyDict_GetItemWithError(groups, key);
    if (!lst) {
        if (PyErr_Occurred()) return -1;
        lst = PyList_New(0);
        if (!lst) return -1;
        int r = PyDict_SetItem(groups, key, lst);
        Py_DECREF(lst);  /* the dict holds it */
        if (r < 0) return -1;
    }
    return PyList_Append(lst, pos);
}

/* columns(events, app_roles, protected_roles, current_turn) -> tuple:
 *   ts, actors, teams, params, messages, responses, prompt_tokens, completion_tokens,
 *   costs, turn texts, turn owners, protected contents, their owners (lists); the
 *   grouping by actor (group(actors)); whether the times ascend (None: not all floats);
 *   the grouping by team (None when an event has none); the times packed as doubles
 *   in bytes (None: not all floats); the spend, (tokens as int64 then costs as doubles
 *   in bytes, positions of the events with spend or None for all) or None (see
 *   plain_spend); the extraction screen of each event's parameters (bytes: 1, 0, or
 *   2 when it raised)
 * What the batched detectors read of a batch (keyed_batch.Columns), in one pass
 * over the events: each event's objects are visited once. */
/* The times of a batch as doubles (the bytes ``columns`` packs them into), or NULL:
 * no such bytes (a time that is not a float), or not of ``n`` times. */
static const double *packed_times(PyObject *packed, Py_ssize_t n) {
    if (!packed || !PyBytes_CheckExact(packed) ||
        PyBytes_GET_SIZE(packed) != n * (Py_ssize_t)sizeof(double))
        return NULL;
    return (const double *)PyBytes_AS_STRING(packed);
}

/* The spend of one event as the wallet's C steps read it: tokens (p or 0) + (c or 0)
 * and cost (k or 0.0) as a double; 0 when a value is one those steps leave to Python
 * (a type other than None and int (float for the cost), an int outside [0, 2**53], a
 * cost that is not finite), so that the batch's spend is then not packed. */
static int plain_spend(PyObject *p, PyObject *c, PyObject *k, long long *tokens,
                       double *cost) {
    long long t = 0;
    PyObject *parts[2] = {p, c};
    for (int q = 0; q < 2; q++) {
        PyObject *v = parts[q];
        if (v == Py_None) continue;
        if (!PyLong_CheckExact(v)) return 0;
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || x < 0 || (double)x > EXACT_INT) {
            PyErr_Clear();
            return 0;
        }
        t += x;
    }
    if ((double)t > EXACT_INT) return 0;
    double d = 0.0;
    if (k == Py_None) {
        d = 0.0;
    } else if (PyFloat_CheckExact(k)) {
        d = PyFloat_AS_DOUBLE(k);
    } else if (PyLong_CheckExact(k)) {
        d = PyLong_AsDouble(k);
        if (d == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
    } else {
        return 0;
    }
    if (!isfinite(d)) return 0;
    *tokens = t;
    *cost = d;
    return 1;
}

/* The application's prompts seen last in a batch, for ``same_prompt``. */
#define RECENT_PROMPTS 8
typedef struct {
    PyObject *p[RECENT_PROMPTS];
    int next;
} recent_prompts;

/* ``text``, or an equal str seen before in the batch (borrowed). A batch's requests
 * carry a few system prompts many times over, each request its own copy: one object
 * per distinct prompt lets the leakage gate compare them by identity later, when
 * their texts are no longer in cache, where comparing copies would read each again. */
static PyObject *same_prompt(recent_prompts *r, PyObject *text) {
    if (!PyUnicode_CheckExact(text)) return text;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    for (int k = 0; k < RECENT_PROMPTS; k++) {
        PyObject *o = r->p[k];
        if (!o) break;
        if (o == text) return o;
        if (PyUnicode_GET_LENGTH(o) == n && PyUnicode_KIND(o) == kind &&
            memcmp(PyUnicode_DATA(o), PyUnicode_DATA(text), (size_t)n * kind) == 0)
            return o;
    }
    r->p[r->next] = text;
    r->next = (r->next + 1) % RECENT_PROMPTS;
    return text;
}

static PyObject *columns(PyObject *mod, PyObject *args) {
    PyObject *events, *app_roles, *prot_roles, *current_turn, *groups = NULL, *tgroups = NULL;
    PyObject *packed = NULL, *spend = NULL, *spent = NULL, *screens = NULL;
    PyObject *read[NCOLS] = {NULL};
    recent_prompts recent = {{NULL}, 0};  /* borrowed: the protected list holds them */
    if (!PyArg_ParseTuple(args, "OOOO", &events, &app_roles, &prot_roles, &current_turn))
        return NULL;
    PyObject *fast = PySequence_Fast(events, "events must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject *cols[NCOLS] = {NULL};
    PyObject *more_t = PyList_New(0), *more_o = PyList_New(0), *result = NULL;
    int ok = more_t && more_o;
    for (int c = 0; ok && c < NCOLS; c++) {
        if (IS_READ_ONLY(c)) {  /* read here, packed; the list is made on demand */
            cols[c] = Py_None;
            Py_INCREF(Py_None);
            continue;
        }
        cols[c] = (c == COL_TEXTS || c == COL_PROT || c == COL_PROT_OWNERS) ? PyList_New(0)
                                                                             : PyList_New(n);
        ok = cols[c] != NULL;
    }
    if (!ok) goto done;
    PyObject *direct[] = {s_ts, s_team, s_params, s_messages, s_response, s_prompt_tokens,
                          s_completion_tokens, s_cost};
    int where[] = {COL_TS, COL_TEAMS, COL_PARAMS, COL_MESSAGES, COL_RESPONSES, COL_PTOK,
                   COL_CTOK, COL_COSTS};
    enum { NDIRECT = sizeof(direct) / sizeof(direct[0]) };
    /* slots of the events' type (that of the first event; others are read by name) */
    PyTypeObject *etp = n ? Py_TYPE(PySequence_Fast_GET_ITEM(fast, 0)) : NULL;
    Py_ssize_t off[NDIRECT], off_key = -1, off_user = -1, off_ip = -1, off_ms = -1;
    for (int k = 0; k < NDIRECT; k++) off[k] = etp ? slot_offset(etp, direct[k]) : -1;
    if (etp) {
        off_key = slot_offset(etp, s_key);
        off_user = slot_offset(etp, s_user_attr);
        off_ip = slot_offset(etp, s_ip);
        off_ms = slot_offset(etp, s_messages);
    }
    PyObject **items = PySequence_Fast_ITEMS(fast);
    msg_slots mslots = {NULL, -1, -1};
    /* While each event's fields are in cache: the grouping by actor, by team (while
     * every event has one), and whether the times ascend (unknown: -1, for times
     * other than floats, which Python compares itself). */
    groups = PyDict_New();
    tgroups = PyDict_New();
    /* the times as doubles, for the C window steps (None: a time is not a float) */
    packed = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    /* Read while the event is in cache, for the wallet's and probing's C steps: each
     * event's spend (tokens as int64, then costs as doubles; None when a value is left
     * to Python), the events with spend (None: all of them), and the extraction screen
     * of each event's parameters (1 passes, 0 not, 2 unknown: asked again later). */
    spend = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)(sizeof(long long) + sizeof(double)));
    screens = PyBytes_FromStringAndSize(NULL, n);
    spent = Py_None;
    Py_INCREF(spent);
    if (!groups || !tgroups || !packed || !spend || !screens) goto done;
    double *times = (double *)PyBytes_AS_STRING(packed);
    /* the current event's values of the read-only columns (new references) */
    for (int c = 0; c < NCOLS; c++) read[c] = NULL;
    long long *spend_tokens = (long long *)PyBytes_AS_STRING(spend);
    double *spend_costs = (double *)(spend_tokens + n);
    unsigned char *screen = (unsigned char *)PyBytes_AS_STRING(screens);
    params_slots pslots = {NULL, {-1, -1, -1, -1, -1}};
    int asc = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ev = items[i];
        /* events ahead: the event, then (once it is in cache) its key and messages */
        if (i + 8 < n) {
            PREFETCH(items[i + 8]);
            PREFETCH((char *)items[i + 8] + 64);
            PREFETCH((char *)items[i + 8] + 128);
        }
        if (i + 4 < n) {  /* what the event's slots point to: each gets a reference */
            PyObject *ahead = items[i + 4];
            PyObject *k = peek_slot(ahead, etp, off_key), *ms = peek_slot(ahead, etp, off_ms);
            if (k) {  /* the key is hashed: its characters follow the header */
                PREFETCH(k);
                PREFETCH((char *)k + 64);
            }
            if (ms) PREFETCH(ms);
            for (int q = 0; q < NDIRECT; q++) {
                PyObject *v = peek_slot(ahead, etp, off[q]);
                if (v) PREFETCH(v);
            }
        }
        if (i + 2 < n) {
            PyObject *ms = peek_slot(items[i + 2], etp, off_ms);
            if (ms && PyTuple_CheckExact(ms))
                for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(ms) && k < 4; k++)
                    PREFETCH(PyTuple_GET_ITEM(ms, k));
        }
        if (i + 1 < n && mslots.tp) {  /* the next event's message texts (their headers) */
            PyObject *ms = peek_slot(items[i + 1], etp, off_ms);
            if (ms && PyTuple_CheckExact(ms))
                for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(ms) && k < 4; k++) {
                    PyObject *c = peek_slot(PyTuple_GET_ITEM(ms, k), mslots.tp, mslots.content);
                    if (c) {  /* the header and the first characters */
                        PREFETCH(c);
                        PREFETCH((char *)c + 64);
                        PREFETCH((char *)c + 128);
                        PREFETCH((char *)c + 192);
                        PREFETCH((char *)c + 256);
                    }
                }
        }
        for (int k = 0; k < NDIRECT; k++) {
            PyObject *v = get_slot(ev, direct[k], etp, off[k]);
            if (!v) goto done;
            if (IS_READ_ONLY(where[k])) read[where[k]] = v;  /* dropped below */
            else PyList_SET_ITEM(cols[where[k]], i, v);
        }
        /* event.actor(): key or user or ip or "unknown" */
        PyObject *names[] = {s_key, s_user_attr, s_ip};
        Py_ssize_t name_off[] = {off_key, off_user, off_ip};
        PyObject *actor = NULL;
        for (int k = 0; k < 3 && !actor; k++) {
            PyObject *v = get_slot(ev, names[k], etp, name_off[k]);
            if (!v) goto done;
            int t = PyObject_IsTrue(v);
            if (t < 0) { Py_DECREF(v); goto done; }
            if (t) actor = v;
            else Py_DECREF(v);
        }
        if (!actor) {
            actor = s_unknown;
            Py_INCREF(actor);
        }
        PyList_SET_ITEM(cols[COL_ACTORS], i, actor);
        PyObject *pos = position(i);
        if (!pos || add_position(groups, actor, pos) < 0) {
            Py_XDECREF(pos);
            goto done;
        }
        if (tgroups != Py_None) {
            PyObject *team = PyList_GET_ITEM(cols[COL_TEAMS], i);
            int t = PyObject_IsTrue(team);
            if (t < 0 || (t && add_position(tgroups, team, pos) < 0)) {
                Py_DECREF(pos);
                goto done;
            }
            if (!t) {  /* an event without a team: the teams are grouped in Python */
                Py_DECREF(tgroups);
                tgroups = Py_None;
                Py_INCREF(tgroups);
            }
        }
        if (packed != Py_None) {
            PyObject *t = PyList_GET_ITEM(cols[COL_TS], i);
            if (PyFloat_CheckExact(t)) {
                times[i] = PyFloat_AS_DOUBLE(t);
            } else {
                Py_DECREF(packed);
                packed = Py_None;
                Py_INCREF(packed);
            }
        }
        if (i && asc >= 0) {
            PyObject *a = PyList_GET_ITEM(cols[COL_TS], i - 1);
            PyObject *b = PyList_GET_ITEM(cols[COL_TS], i);
            if (PyFloat_CheckExact(a) && PyFloat_CheckExact(b))
                asc = asc && PyFloat_AS_DOUBLE(a) <= PyFloat_AS_DOUBLE(b);
            else
                asc = -1;
        }
        if (spend != Py_None) {
            long long tk;
            double co;
            if (plain_spend(read[COL_PTOK], read[COL_CTOK], read[COL_COSTS], &tk, &co)) {
                spend_tokens[i] = tk;
                spend_costs[i] = co;
                if (!(tk != 0 || co != 0.0) && spent == Py_None) {
                    /* the first event without spend: list those before, then go on */
                    Py_DECREF(spent);
                    spent = PyList_New(0);
                    for (Py_ssize_t j = 0; spent && j < i; j++) {
                        PyObject *q = position(j);
                        if (!q || PyList_Append(spent, q) < 0) Py_CLEAR(spent);
                        Py_XDECREF(q);
                    }
                    if (!spent) { Py_DECREF(pos); goto done; }
                } else if ((tk != 0 || co != 0.0) && spent != Py_None &&
                           PyList_Append(spent, pos) < 0) {
                    Py_DECREF(pos);
                    goto done;
                }
            } else {
                Py_DECREF(spend);
                spend = Py_None;
                Py_INCREF(spend);
            }
        }
        {
            PyObject *pr = read[COL_PARAMS];
            if (!pslots.tp) find_params_slots(pr, &pslots);
            int t = extraction_screen(pr, &pslots);
            if (t < 0) {  /* asked again by the probing steps, which then raise */
                PyErr_Clear();
                t = 2;
            }
            screen[i] = (unsigned char)t;
        }
        for (int c = 0; c < NCOLS; c++) Py_CLEAR(read[c]);
        PyObject *ms = PySequence_Fast(PyList_GET_ITEM(cols[COL_MESSAGES], i),
                                       "messages must be a sequence");
        if (!ms) {
            Py_DECREF(pos);
            goto done;
        }
        PyObject *text;
        if (!mslots.tp && PySequence_Fast_GET_SIZE(ms) > 0)
            find_msg_slots(PySequence_Fast_GET_ITEM(ms, 0), &mslots);
        int rc = turn_of(ev, ms, i, app_roles, current_turn, more_t, more_o, &text, &mslots);
        if (rc == 0) {
            rc = PyList_Append(cols[COL_TEXTS], text);
            Py_DECREF(text);
        }
        /* the application's own prompts (system, developer), for the leakage check */
        for (Py_ssize_t k = 0; rc == 0 && k < PySequence_Fast_GET_SIZE(ms); k++) {
            PyObject *m = PySequence_Fast_GET_ITEM(ms, k);
            PyObject *role = get_slot(m, s_role, mslots.tp, mslots.role);
            if (!role) { rc = -1; break; }
            int in = PySequence_Contains(prot_roles, role);
            Py_DECREF(role);
            if (in < 0) { rc = -1; break; }
            if (!in) continue;
            PyObject *content = get_slot(m, s_content, mslots.tp, mslots.content);
            if (!content) { rc = -1; break; }
            PyObject *same = same_prompt(&recent, content);
            if (PyList_Append(cols[COL_PROT], same) < 0 ||
                PyList_Append(cols[COL_PROT_OWNERS], pos) < 0)
                rc = -1;
            Py_DECREF(content);
        }
        Py_DECREF(pos);
        Py_DECREF(ms);
        if (rc < 0) goto done;
    }
    {
        PyObject *owners = turn_result(cols[COL_TEXTS], more_t, more_o);
        if (!owners) goto done;
        PyObject *spend_pair = spend == Py_None ? (Py_INCREF(Py_None), Py_None)
                                                : PyTuple_Pack(2, spend, spent);
        result = spend_pair ? PyTuple_New(NCOLS + 7) : NULL;
        if (!result) {
            Py_DECREF(owners);
            Py_XDECREF(spend_pair);
            goto done;
        }
        int at = 0;
        for (int c = 0; c < NCOLS; c++) {
            Py_INCREF(cols[c]);
            PyTuple_SET_ITEM(result, at++, cols[c]);
            if (c == COL_TEXTS) PyTuple_SET_ITEM(result, at++, owners);
        }
        PyObject *ascending = asc < 0 ? Py_None : asc ? Py_True : Py_False;
        Py_INCREF(ascending);
        PyTuple_SET_ITEM(result, at++, groups);
        PyTuple_SET_ITEM(result, at++, ascending);
        PyTuple_SET_ITEM(result, at++, tgroups);
        PyTuple_SET_ITEM(result, at++, packed);
        PyTuple_SET_ITEM(result, at++, spend_pair);
        PyTuple_SET_ITEM(result, at++, screens);
        groups = tgroups = packed = screens = NULL;  /* the result holds them */
    }
done:
    Py_XDECREF(groups);
    Py_XDECREF(tgroups);
    Py_XDECREF(packed);
    Py_XDECREF(spend);
    Py_XDECREF(spent);
    Py_XDECREF(screens);
    for (int c = 0; c < NCOLS; c++) Py_XDECREF(read[c]);
    Py_DECREF(fast);
    Py_XDECREF(more_t);
    Py_XDECREF(more_o);
    for (int c = 0; c < NCOLS; c++) Py_XDECREF(cols[c]);
    return result;
}

/* ---------------------------------------------------------- suffix statistics */

/* The statistics suffix.features counts in an ASCII tail and head, in C passes over
 * their bytes (suffix.py holds the definitions; the tests compare the two). */

static const char sfx_symbols[] = "[]{}()<>\\/|*_=+~^`@#$%&";

static inline int is_lower_a(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline int is_upper_a(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline int is_letter_a(unsigned char c) { return is_lower_a(c) || is_upper_a(c); }
/* _BLOB's characters: [A-Za-z0-9+/=_-] */
static inline int is_blob(unsigned char c) {
    return is_letter_a(c) || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' ||
           c == '_' || c == '-';
}
/* what str.split() splits ASCII text at */
static inline int is_space_a(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}
/* _GLUED's brackets: [\]\[(){}\\] */
static inline int is_glue(unsigned char c) {
    return c == '[' || c == ']' || c == '(' || c == ')' || c == '{' || c == '}' || c == '\\';
}

/* _fragments(text) of ASCII bytes (runs of letters split where a lowercase letter
 * meets a capital, three letters or more, lowercased), counted, with how many are
 * not in ``vocab``. Returns 0, -1 on error. */
static int fragments_oov(const unsigned char *p, Py_ssize_t n, PyObject *vocab,
                         long *nfrags, long *noov) {
    char buf[256];
    *nfrags = *noov = 0;
    Py_ssize_t i = 0;
    while (i < n) {
        if (!is_letter_a(p[i])) { i++; continue; }
        Py_ssize_t j = i + 1;
        while (j < n && is_letter_a(p[j]) && !(is_lower_a(p[j - 1]) && is_upper_a(p[j]))) j++;
        Py_ssize_t len = j - i;
        if (len >= 3) {
            (*nfrags)++;
            PyObject *w;
            if (len <= (Py_ssize_t)sizeof(buf)) {
                for (Py_ssize_t k = 0; k < len; k++) buf[k] = (char)ascii_lower[p[i + k]];
                w = PyUnicode_FromStringAndSize(buf, len);
            } else {
                w = PyUnicode_New(len, 127);
                if (w) {
                    Py_UCS1 *d = PyUnicode_1BYTE_DATA(w);
                    for (Py_ssize_t k = 0; k < len; k++) d[k] = ascii_lower[p[i + k]];
                }
            }
            if (!w) return -1;
            int in = PySet_Contains(vocab, w);
            Py_DECREF(w);
            if (in < 0) return -1;
            if (!in) (*noov)++;
        }
        i = j;
    }
    return 0;
}

/* suffix_frags(text, vocab) -> (fragments, not in vocab), for an ASCII str */
static PyObject *suffix_frags(PyObject *mod, PyObject *args) {
    PyObject *text, *vocab;
    if (!PyArg_ParseTuple(args, "UO", &text, &vocab)) return NULL;
    if (!PyUnicode_IS_ASCII(text) || !PyAnySet_Check(vocab)) {
        PyErr_SetString(PyExc_ValueError, "an ASCII text and a set of words");
        return NULL;
    }
    long nf, no;
    if (fragments_oov(PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text), vocab, &nf,
                      &no) < 0)
        return NULL;
    return Py_BuildValue("(ll)", nf, no);
}

/* suffix_tail(tail, vocab) -> (tail with blobs blanked, tokens, odd tokens, case flips,
 *   symbols, newlines, counts of ( ) [ ] { } < >, glued, fragments, not in vocab)
 * for an ASCII str (see suffix.features) */
static PyObject *suffix_tail(PyObject *mod, PyObject *args) {
    PyObject *text, *vocab;
    if (!PyArg_ParseTuple(args, "UO", &text, &vocab)) return NULL;
    if (!PyUnicode_IS_ASCII(text) || !PyAnySet_Check(vocab)) {
        PyErr_SetString(PyExc_ValueError, "an ASCII text and a set of words");
        return NULL;
    }
    const unsigned char *src = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    /* _BLOB.sub(" ", tail): each maximal run of 20 or more blob characters -> " " */
    unsigned char *t = PyMem_Malloc(n ? n : 1);
    if (!t) return PyErr_NoMemory();
    Py_ssize_t m = 0;
    int blanked = 0;
    for (Py_ssize_t i = 0; i < n;) {
        if (!is_blob(src[i])) { t[m++] = src[i++]; continue; }
        Py_ssize_t j = i;
        while (j < n && is_blob(src[j])) j++;
        if (j - i >= 20) {
            t[m++] = ' ';
            blanked = 1;
        } else {
            memcpy(t + m, src + i, (size_t)(j - i));
            m += j - i;
        }
        i = j;
    }
    long ntoks = 0, nweird = 0, nflips = 0, nsyms = 0, nl = 0, glued = 0;
    long br[8] = {0};  /* ( ) [ ] { } < > */
    static const char brackets[] = "()[]{}<>";
    /* tokens: runs of non-spaces; odd: a case flip, or a symbol and a letter (not a
     * link) */
    for (Py_ssize_t i = 0; i < m;) {
        if (is_space_a(t[i])) { i++; continue; }
        Py_ssize_t j = i;
        int flip = 0, sym = 0, letter = 0;
        for (; j < m && !is_space_a(t[j]); j++) {
            unsigned char c = t[j];
            if (j > i && is_lower_a(t[j - 1]) && is_upper_a(c)) flip = 1;
            if (c && memchr(sfx_symbols, c, sizeof(sfx_symbols) - 1)) sym = 1;
            if (is_letter_a(c)) letter = 1;
        }
        int link = (j - i >= 4 && memcmp(t + i, "http", 4) == 0) ||
                   (j - i >= 3 && memcmp(t + i, "www", 3) == 0);
        ntoks++;
        if (flip || (sym && letter && !link)) nweird++;
        i = j;
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        unsigned char c = t[i];
        if (i + 1 < m && is_lower_a(c) && is_upper_a(t[i + 1])) nflips++;
        if (c && memchr(sfx_symbols, c, sizeof(sfx_symbols) - 1)) nsyms++;
        if (c == '\n') nl++;
        const char *b = c ? memchr(brackets, c, 8) : NULL;
        if (b) br[b - brackets]++;
    }
    /* _GLUED.findall: a letter then a bracket, or a bracket then a capital; each match
     * takes two characters */
    for (Py_ssize_t i = 0; i + 1 < m;) {
        if ((is_letter_a(t[i]) && is_glue(t[i + 1])) || (is_glue(t[i]) && is_upper_a(t[i + 1]))) {
            glued++;
            i += 2;
        } else {
            i++;
        }
    }
    long nf, no;
    PyObject *out = NULL;
    if (fragments_oov(t, m, vocab, &nf, &no) == 0) {
        PyObject *tail = blanked ? PyUnicode_FromStringAndSize((const char *)t, m)
                                 : (Py_INCREF(text), text);
        if (tail)
            out = Py_BuildValue("(Nllllllllllllllll)", tail, ntoks, nweird, nflips, nsyms, nl,
                                br[0], br[1], br[2], br[3], br[4], br[5], br[6], br[7], glued,
                                nf, no);
    }
    PyMem_Free(t);
    return out;
}

/* ------------------------------------------------------------ suffix gate */

/* (SuffixGate: see "suffix gate" below) */

/* First the symbols and brackets of the tail (a table look-up per character; a
 * bracket is rare), then, only when that does not settle it, the case flips. */
#define SUFFIX_COUNT(T)                                                    \
    for (Py_ssize_t i = start; i < n; i++) {                               \
        Py_UCS4 c = ((const T *)data)[i];                                  \
        unsigned k = c < 128 ? sg->cls[c] : 0;                             \
        nsym += k & SFX_SYMBOL;                                            \
        if (k >> SFX_BRACKET_SHIFT) br[k >> SFX_BRACKET_SHIFT]++;          \
    }
#define SUFFIX_FLIP(T)                                                     \
    for (Py_ssize_t i = start + 1; i < n; i++) {                           \
        Py_UCS4 a = ((const T *)data)[i - 1], b = ((const T *)data)[i];    \
        if (a >= 'a' && a <= 'z' && b >= 'A' && b <= 'Z') return 1;        \
    }

static int suffix_judge(const SuffixGateObject *sg, PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (n < sg->min_chars) return 0;
    Py_ssize_t start = sg->tail < n ? n - sg->tail : 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t nsym = 0, br[8] = {0};
    if (kind == PyUnicode_1BYTE_KIND) {
        const unsigned char *p = data, *cls = sg->cls;
        for (Py_ssize_t i = start; i < n; i++) {  /* the usual text: no bounds test */
            unsigned k = cls[p[i]];
            nsym += k & SFX_SYMBOL;
            if (k >> SFX_BRACKET_SHIFT) br[k >> SFX_BRACKET_SHIFT]++;
        }
    } else if (kind == PyUnicode_2BYTE_KIND) {
        SUFFIX_COUNT(Py_UCS2)
    } else {
        SUFFIX_COUNT(Py_UCS4)
    }
    if (nsym == 0) return 0;
    if (kind == PyUnicode_1BYTE_KIND) {  /* a case flip */
        SUFFIX_FLIP(Py_UCS1)
    } else if (kind == PyUnicode_2BYTE_KIND) {
        SUFFIX_FLIP(Py_UCS2)
    } else {
        SUFFIX_FLIP(Py_UCS4)
    }
    if (nsym < 3) return 0;
    return br[1] != br[2] || br[3] != br[4] || br[5] != br[6];
}

static int suffix_judge_any(PyObject *fn, PyObject *text) {
    return suffix_judge((const SuffixGateObject *)fn, text);
}

static int suffix_init(SuffixGateObject *self, PyObject *args, PyObject *kwds) {
    PyObject *symbols;
    byteset sym;
    if (!PyArg_ParseTuple(args, "nnS", &self->tail, &self->min_chars, &symbols)) return -1;
    if (bs_from_bytes(symbols, &sym) < 0) return -1;
    static const char brackets[] = "()[]{}";
    memset(self->cls, 0, sizeof(self->cls));
    for (int c = 1; c < 128; c++) {
        const char *b = strchr(brackets, c);
        self->cls[c] = (unsigned char)((bs_has(&sym, c) ? SFX_SYMBOL : 0) |
                                       (c >= 'a' && c <= 'z' ? SFX_LOWER : 0) |
                                       (c >= 'A' && c <= 'Z' ? SFX_UPPER : 0) |
                                       (b ? (b - brackets + 1) << SFX_BRACKET_SHIFT : 0));
    }
    return 0;
}

static PyObject *suffix_call(SuffixGateObject *self, PyObject *args, PyObject *kwds) {
    PyObject *text;
    if (!PyArg_ParseTuple(args, "U", &text)) return NULL;
    return PyBool_FromLong(suffix_judge(self, text));
}

static PyTypeObject SuffixGateType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ircon.detect._fast.SuffixGate",
    .tp_basicsize = sizeof(SuffixGateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SuffixGate(tail_chars, min_chars, symbols)(text): suffix.SuffixDetector.gate.",
    .tp_call = (ternaryfunc)suffix_call,
    .tp_init = (initproc)suffix_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------- Trigrams */

/* Trigrams(alphabet, scores): the trigram table of suffix.CharModel, scores[a*V*V +
 * b*V + c] for the alphabet's characters a, b, c (V of them, ASCII).
 * .mean(s) -> float | None: the scores of the trigrams of ``s`` added left to right
 * (as sum() of floats does before Python 3.12), over len(s) - 2; None for a
 * character outside the alphabet. */
typedef struct {
    PyObject_HEAD
    int v;
    signed char index[128];  /* character -> its position in the alphabet, or -1 */
    double *scores;
} TrigramsObject;

static void trigrams_dealloc(TrigramsObject *self) {
    PyMem_Free(self->scores);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int trigrams_init(TrigramsObject *self, PyObject *args, PyObject *kwds) {
    PyObject *alphabet, *scores;
    if (!PyArg_ParseTuple(args, "UO!", &alphabet, &PyList_Type, &scores)) return -1;
    if (self->scores) {
        PyErr_SetString(PyExc_RuntimeError, "Trigrams is initialized once");
        return -1;
    }
    Py_ssize_t v = PyUnicode_GET_LENGTH(alphabet);
    if (!PyUnicode_IS_ASCII(alphabet) || v < 1 || v > 64 ||
        PyList_GET_SIZE(scores) != v * v * v) {
        PyErr_SetString(PyExc_ValueError, "an ASCII alphabet of 1 to 64 characters and "
                                          "one score per trigram");
        return -1;
    }
    memset(self->index, -1, sizeof(self->index));
    const unsigned char *a = PyUnicode_DATA(alphabet);
    for (Py_ssize_t i = 0; i < v; i++) {
        if (self->index[a[i]] >= 0) {
            PyErr_SetString(PyExc_ValueError, "a character twice in the alphabet");
            return -1;
        }
        self->index[a[i]] = (signed char)i;
    }
    self->scores = PyMem_Malloc((size_t)(v * v * v) * sizeof(double));
    if (!self->scores) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < v * v * v; i++) {
        PyObject *x = PyList_GET_ITEM(scores, i);
        if (!PyFloat_CheckExact(x)) {
            PyMem_Free(self->scores);
            self->scores = NULL;
            PyErr_SetString(PyExc_TypeError, "scores must be floats");
            return -1;
        }
        self->scores[i] = PyFloat_AS_DOUBLE(x);
    }
    self->v = (int)v;
    return 0;
}

static PyObject *trigrams_mean(TrigramsObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "text must be str");
        return NULL;
    }
    if (!self->scores) {
        PyErr_SetString(PyExc_RuntimeError, "Trigrams is not initialized");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text) - 2;
    if (n <= 0) return PyFloat_FromDouble(0.0);
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    const unsigned char *p = PyUnicode_DATA(text);
    const signed char *ix = self->index;
    int v = self->v;
    double total = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int a = ix[p[i]], b = ix[p[i + 1]], c = ix[p[i + 2]];
        if ((a | b | c) < 0) Py_RETURN_NONE;
        total += self->scores[(a * v + b) * v + c];
    }
    return PyFloat_FromDouble(total / (double)n);
}

static PyMethodDef trigrams_methods[] = {
    {"mean", (PyCFunction)trigrams_mean, METH_O,
     "mean(text) -> float | None: the mean trigram score of text (None: a character "
     "outside the alphabet)."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject TrigramsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ircon.detect._fast.Trigrams",
    .tp_basicsize = sizeof(TrigramsObject),
    .tp_dealloc = (destructor)trigrams_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Trigrams(alphabet, scores): the trigram table of suffix.CharModel.",
    .tp_methods = trigrams_methods,
    .tp_init = (initproc)trigrams_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------ spend windows */

/* Python's float floor division (floatobject.c, _float_div_mod), wx > 0. */
static double py_floor_div(double vx, double wx) {
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod) {
        if ((wx < 0) != (mod < 0)) div -= 1.0;
    }
    if (div) {
        double fl = floor(div);
        if (div - fl > 0.5) fl += 1.0;
        return fl;
    }
    return copysign(0.0, vx / wx);
}


static int get_double(PyObject *o, PyObject *name, double *out) {
    PyObject *v = attr_get(o, name);
    if (!v) return -1;
    int ok = PyFloat_CheckExact(v);
    if (ok) *out = PyFloat_AS_DOUBLE(v);
    Py_DECREF(v);
    return ok;
}

static int get_int(PyObject *o, PyObject *name, long long *out) {
    PyObject *v = attr_get(o, name);
    if (!v) return -1;
    int ok = PyLong_CheckExact(v);
    if (ok) {
        int overflow;
        *out = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || *out > (long long)EXACT_INT || *out < -(long long)EXACT_INT) ok = 0;
    }
    Py_DECREF(v);
    return ok;
}

/* o.name = value, as a float: nothing when it holds that value already (bit for bit),
 * else ``src`` when that is a float of the value (shared, as Python would share it),
 * else a new float. Per-key state then costs no more memory than the Python steps. */
static int set_double(PyObject *o, PyObject *name, double value, PyObject *src) {
    PyObject *cur = attr_get(o, name);
    if (!cur) return -1;
    double was = PyFloat_CheckExact(cur) ? PyFloat_AS_DOUBLE(cur) : 0.0;
    int same = PyFloat_CheckExact(cur) && memcmp(&was, &value, sizeof(double)) == 0;
    Py_DECREF(cur);
    if (same) return 0;
    if (src && PyFloat_CheckExact(src)) {
        double s = PyFloat_AS_DOUBLE(src);
        if (memcmp(&s, &value, sizeof(double)) == 0) return attr_set(o, name, src);
    }
    PyObject *v = PyFloat_FromDouble(value);
    if (!v) return -1;
    int r = attr_set(o, name, v);
    Py_DECREF(v);
    return r;
}

static int set_attr(PyObject *o, PyObject *name, PyObject *v) {
    if (!v) return -1;
    int r = attr_set(o, name, v);
    Py_DECREF(v);
    return r;
}

/* spend_totals(prompt_tokens, completion_tokens, costs) -> (tokens, costs, sel) | None
 *
 * The spend of each event as WalletDetector.observe_batch computes it: tokens
 * ``(p or 0) + (c or 0)``, costs ``c or 0.0``, and ``sel``: the positions of the
 * events with any spend (None when every event has some). None when a value is
 * neither None nor an int (a cost neither None, int nor float): Python then. */
static PyObject *spend_totals(PyObject *mod, PyObject *args) {
    PyObject *pts, *cts, *costs;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &pts, &PyList_Type, &cts,
                          &PyList_Type, &costs))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(pts);
    if (PyList_GET_SIZE(cts) != n || PyList_GET_SIZE(costs) != n) {
        PyErr_SetString(PyExc_ValueError, "columns differ in length");
        return NULL;
    }
    PyObject *tokens = PyList_New(n), *cost_out = PyList_New(n), *sel = PyList_New(0);
    PyObject *zero_f = PyFloat_FromDouble(0.0), *result = NULL;
    if (!tokens || !cost_out || !sel || !zero_f) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyList_GET_ITEM(pts, i), *c = PyList_GET_ITEM(cts, i);
        PyObject *k = PyList_GET_ITEM(costs, i);
        if ((p != Py_None && !PyLong_CheckExact(p)) || (c != Py_None && !PyLong_CheckExact(c)) ||
            (k != Py_None && !PyLong_CheckExact(k) && !PyFloat_CheckExact(k))) {
            Py_INCREF(Py_None);
            result = Py_None;
            goto done;
        }
        PyObject *t = PyNumber_Add(p == Py_None ? py_zero : p, c == Py_None ? py_zero : c);
        if (!t) goto done;
        PyList_SET_ITEM(tokens, i, t);
        PyObject *kk = k == Py_None ? zero_f : k;
        Py_INCREF(kk);
        PyList_SET_ITEM(cost_out, i, kk);
        int spent = PyObject_IsTrue(t);
        if (spent == 0) spent = PyObject_IsTrue(kk);
        if (spent < 0) goto done;
        if (spent) {
            PyObject *pos = position(i);
            int rc = pos ? PyList_Append(sel, pos) : -1;
            Py_XDECREF(pos);
            if (rc < 0) goto done;
        }
    }
    result = PyTuple_Pack(3, tokens, cost_out, PyList_GET_SIZE(sel) == n ? Py_None : sel);
done:
    Py_XDECREF(tokens);
    Py_XDECREF(cost_out);
    Py_XDECREF(sel);
    Py_XDECREF(zero_f);
    return result;
}

/* The batch's columns and the wallet detector's parameters. */
typedef struct {
    PyObject *ts, *tokens, *costs;  /* tokens, costs: lists, unless packed below */
    const double *times;  /* ts as doubles (see packed_times), or NULL */
    const long long *ptokens;  /* the spend columns packed (see columns), or NULL */
    const double *pcosts;
    double window, alpha, factor, min_tokens, new_tokens, min_cost, new_cost;
    long long base_windows;
} spend_params;

/* The wallet detector's per-event steps (WalletDetector._add) for the events ``idx``
 * of one key or team, in order: roll the tumbling window, add the spend, and note
 * the first crossing of a threshold in each window (the state as it was then, for
 * the finding). ``st`` is updated. Returns a new list of crossings
 * [(i, tokens, cost, base_tokens, base_cost, windows)], or a new reference to None,
 * with ``st`` untouched, when a value is one C cannot treat exactly as Python does (a
 * time that is not finite, an int beyond 2**53, a type other than int or float): the
 * caller then takes the Python path. NULL on error. */
static PyObject *spend_core(const spend_params *sp, PyObject *st, PyObject *idx) {
    PyObject *ts = sp->ts, *tokens = sp->tokens, *costs = sp->costs;
    double window = sp->window, alpha = sp->alpha, factor = sp->factor;
    double min_tokens = sp->min_tokens, new_tokens = sp->new_tokens;
    double min_cost = sp->min_cost, new_cost = sp->new_cost;
    long long base_windows = sp->base_windows;
    if (!PyList_Check(idx)) {
        PyErr_SetString(PyExc_TypeError, "positions must be a list");
        return NULL;
    }
    double start, cost, base_tokens, base_cost;
    long long tok, windows;
    int ok;
    if ((ok = get_double(st, s_start, &start)) <= 0 || (ok = get_int(st, s_tokens, &tok)) <= 0 ||
        (ok = get_double(st, s_cost, &cost)) <= 0 ||
        (ok = get_double(st, s_base_tokens, &base_tokens)) <= 0 ||
        (ok = get_double(st, s_base_cost, &base_cost)) <= 0 ||
        (ok = get_int(st, s_windows, &windows)) <= 0) {
        if (ok < 0) return NULL;
        Py_RETURN_NONE;
    }
    PyObject *rep = attr_get(st, s_reported);
    if (!rep) return NULL;
    int reported = PyObject_IsTrue(rep);
    Py_DECREF(rep);
    if (reported < 0) return NULL;
    if (!(window > 0) || !isfinite(window)) Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(idx);
    Py_ssize_t nts = PyList_GET_SIZE(ts);
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    double keep = 1.0 - alpha;
    PyObject *start_src = NULL;  /* the time object ``start`` was taken from, if so */
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(idx, j));
        if (i == -1 && PyErr_Occurred()) goto fail;
        if (i < 0 || i >= nts) {
            PyErr_SetString(PyExc_IndexError, "event index out of range");
            goto fail;
        }
        double now;
        if (sp->times) {
            now = sp->times[i];
        } else {
            PyObject *to = PyList_GET_ITEM(ts, i);
            if (!PyFloat_CheckExact(to)) goto python;
            now = PyFloat_AS_DOUBLE(to);
        }
        if (!isfinite(now)) goto python;
        long long t;
        double c;
        if (sp->ptokens) {  /* checked when packed: ints in [0, 2**53], finite costs */
            t = sp->ptokens[i];
            c = sp->pcosts[i];
        } else {
            PyObject *tk = PyList_GET_ITEM(tokens, i), *co = PyList_GET_ITEM(costs, i);
            if (!PyLong_CheckExact(tk)) goto python;
            int overflow;
            t = PyLong_AsLongLongAndOverflow(tk, &overflow);
            if (overflow || t < 0 || (double)t > EXACT_INT) goto python;
            if (PyFloat_CheckExact(co)) c = PyFloat_AS_DOUBLE(co);
            else if (PyLong_CheckExact(co)) {
                c = PyLong_AsDouble(co);
                if (c == -1.0 && PyErr_Occurred()) { PyErr_Clear(); goto python; }
            } else goto python;
            if (!isfinite(c)) goto python;
        }
        if (start < 0) {
            start = now;
            start_src = PyList_GET_ITEM(ts, i);
        } else if (now - start >= window) {
            double el = py_floor_div(now - start, window);
            if (!(el < EXACT_INT)) goto python;
            long long elapsed = (long long)el;
            double decay = pow(keep, (double)(elapsed - 1 > 0 ? elapsed - 1 : 0));
            if (windows == 0) {
                base_tokens = (double)tok;
                base_cost = cost;
            } else {
                base_tokens = keep * base_tokens + alpha * (double)tok;
                base_cost = keep * base_cost + alpha * cost;
            }
            base_tokens *= decay;
            base_cost *= decay;
            windows += elapsed;
            start += (double)elapsed * window;
            tok = 0;
            cost = 0.0;
            reported = 0;
        }
        tok += t;
        if ((double)tok > EXACT_INT) goto python;
        cost += c;
        if (reported) continue;
        int has_base = windows >= base_windows;
        double tf = (double)tok;
        int over = (tf >= min_tokens &&
                    (has_base ? tf >= factor * (1.0 > base_tokens ? 1.0 : base_tokens)
                              : tf >= new_tokens)) ||
                   (cost >= min_cost &&
                    (has_base ? cost >= factor * (0.01 > base_cost ? 0.01 : base_cost)
                              : cost >= new_cost));
        if (over) {
            reported = 1;
            PyObject *snap = Py_BuildValue("(nLdddL)", i, tok, cost, base_tokens, base_cost,
                                           windows);
            if (!snap || PyList_Append(out, snap) < 0) {
                Py_XDECREF(snap);
                goto fail;
            }
            Py_DECREF(snap);
        }
    }
    if (set_double(st, s_start, start, start_src) < 0 ||
        set_attr(st, s_tokens, PyLong_FromLongLong(tok)) < 0 ||
        set_double(st, s_cost, cost, NULL) < 0 ||
        set_double(st, s_base_tokens, base_tokens, NULL) < 0 ||
        set_double(st, s_base_cost, base_cost, NULL) < 0 ||
        set_attr(st, s_windows, PyLong_FromLongLong(windows)) < 0 ||
        set_attr(st, s_reported, PyBool_FromLong(reported)) < 0)
        goto fail;
    return out;
python:
    Py_DECREF(out);
    Py_RETURN_NONE;
fail:
    Py_DECREF(out);
    return NULL;
}

#define SPEND_PARAMS_FORMAT "O!OOddLddddd"
#define SPEND_PARAMS_ARGS(sp)                                                          \
    &PyList_Type, &(sp).ts, &(sp).tokens, &(sp).costs,                                 \
        &(sp).window, &(sp).alpha, &(sp).base_windows, &(sp).factor, &(sp).min_tokens, \
        &(sp).new_tokens, &(sp).min_cost, &(sp).new_cost

/* spend_batch(pairs, packed_ts, packed_spend, ts, tokens, costs, window, alpha,
 *             base_windows, factor, min_tokens, new_tokens, min_cost, new_cost)
 *   -> (crossings, rest)
 *
 * spend_core for each (state, positions) of ``pairs`` in turn (one call for a batch's
 * keys: the arguments are parsed once): ``crossings`` holds what each gave, in
 * order; ``rest`` the numbers of the pairs it left to Python (states unchanged).
 * ``packed_spend``: the spend columns as ``columns`` packs them, or None; the
 * ``tokens`` and ``costs`` lists are read only without it (else they may be None). */
static PyObject *spend_batch(PyObject *mod, PyObject *args) {
    PyObject *pairs, *packed, *packed_spend;
    spend_params sp;
    if (!PyArg_ParseTuple(args, "O!OO" SPEND_PARAMS_FORMAT, &PyList_Type, &pairs, &packed,
                          &packed_spend, SPEND_PARAMS_ARGS(sp)))
        return NULL;
    Py_ssize_t nts = PyList_GET_SIZE(sp.ts);
    sp.times = packed_times(packed, nts);
    sp.ptokens = NULL;
    sp.pcosts = NULL;
    if (packed_spend != Py_None) {
        if (!PyBytes_CheckExact(packed_spend) ||
            PyBytes_GET_SIZE(packed_spend) !=
                nts * (Py_ssize_t)(sizeof(long long) + sizeof(double))) {
            PyErr_SetString(PyExc_ValueError, "packed spend does not fit the batch");
            return NULL;
        }
        sp.ptokens = (const long long *)PyBytes_AS_STRING(packed_spend);
        sp.pcosts = (const double *)(sp.ptokens + nts);
    } else if (!PyList_Check(sp.tokens) || !PyList_Check(sp.costs) ||
               PyList_GET_SIZE(sp.tokens) != nts || PyList_GET_SIZE(sp.costs) != nts) {
        PyErr_SetString(PyExc_ValueError, "ts, tokens and costs differ in length");
        return NULL;
    }
    PyObject *crossings = PyList_New(0), *rest = PyList_New(0);
    if (!crossings || !rest) goto fail;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(pairs); k++) {
        PyObject *pair = PyList_GET_ITEM(pairs, k);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "pairs must hold (state, positions) tuples");
            goto fail;
        }
        Py_INCREF(pair);  /* a callback could drop the list's reference */
        PyObject *got = spend_core(&sp, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1));
        Py_DECREF(pair);
        if (!got) goto fail;
        int bad;
        if (got == Py_None) {
            PyObject *num = PyLong_FromSsize_t(k);
            bad = !num || PyList_Append(rest, num) < 0;
            Py_XDECREF(num);
        } else {
            bad = PyList_SetSlice(crossings, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, got) < 0;
        }
        Py_DECREF(got);
        if (bad) goto fail;
    }
    PyObject *res = PyTuple_Pack(2, crossings, rest);
    Py_DECREF(crossings);
    Py_DECREF(rest);
    return res;
fail:
    Py_XDECREF(crossings);
    Py_XDECREF(rest);
    return NULL;
}

/* ------------------------------------------------------------------ group */

/* group(keys) -> dict: the positions of each distinct key, keys in order of first
 * occurrence (keyed_batch.group). */
static PyObject *group(PyObject *mod, PyObject *keys) {
    PyObject *fast = PySequence_Fast(keys, "keys must be a sequence");
    if (!fast) return NULL;
    PyObject *out = PyDict_New();
    if (!out) { Py_DECREF(fast); return NULL; }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PySequence_Fast_GET_ITEM(fast, i);
        PyObject *lst = PyDict_GetItemWithError(out, k);
        if (!lst) {
            if (PyErr_Occurred()) goto fail;
            lst = PyList_New(0);
            if (!lst) goto fail;
            int r = PyDict_SetItem(out, k, lst);
            Py_DECREF(lst);  /* the dict holds it */
            if (r < 0) goto fail;
        }
        PyObject *pos = position(i);
        if (!pos) goto fail;
        int r = PyList_Append(lst, pos);
        Py_DECREF(pos);
        if (r < 0) goto fail;
    }
    Py_DECREF(fast);
    return out;
fail:
    Py_DECREF(fast);
    Py_DECREF(out);
    return NULL;
}

/* ------------------------------------------------------------ probing windows */

typedef struct {
    PyObject *det, *st, *idx, *messages;
    PyObject *make_busy;  /* probing._busy: the key's prompt statistics, made from early */
    PyObject *params;  /* the parameters column, or NULL: read from the events */
    PyObject *events;  /* the batch (a list or a tuple) */
    Py_ssize_t cap, half;
    params_slots ps;
    const unsigned char *screens;  /* per event: the screen as ``columns`` read it, or NULL */
} probe_ctx;

/* The parameters of event ``i`` of the batch (a new reference), from the column when
 * there is one, else from the event. */
static PyObject *params_at(const probe_ctx *x, Py_ssize_t i) {
    if (x->params) {
        PyObject *p = PyList_GET_ITEM(x->params, i);
        Py_INCREF(p);
        return p;
    }
    PyObject *ev = PySequence_Fast_GET_ITEM(x->events, i);
    return get_slot(ev, s_params, NULL, -1);
}

static int set_long(PyObject *o, PyObject *name, long long v) {
    return set_attr(o, name, PyLong_FromLongLong(v));
}

static int list_extend_at(PyObject *dst, PyObject *src, PyObject *idx, Py_ssize_t a,
                          Py_ssize_t b) {
    Py_ssize_t nsrc = PyList_GET_SIZE(src);
    for (Py_ssize_t j = a; j < b; j++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(idx, j));
        if (i == -1 && PyErr_Occurred()) return -1;
        if (i < 0 || i >= nsrc) {
            PyErr_SetString(PyExc_IndexError, "event index out of range");
            return -1;
        }
        if (PyList_Append(dst, PyList_GET_ITEM(src, i)) < 0) return -1;
    }
    return 0;
}

/* pend.extend(the parameters of events idx[a:b]), read from the events. */
static int params_extend_at(const probe_ctx *x, PyObject *pend, Py_ssize_t a, Py_ssize_t b) {
    Py_ssize_t np = PySequence_Fast_GET_SIZE(x->events);
    for (Py_ssize_t j = a; j < b; j++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(x->idx, j));
        if (i == -1 && PyErr_Occurred()) return -1;
        if (i < 0 || i >= np) {
            PyErr_SetString(PyExc_IndexError, "event index out of range");
            return -1;
        }
        PyObject *p = params_at(x, i);
        int r = p ? PyList_Append(pend, p) : -1;
        Py_XDECREF(p);
        if (r < 0) return -1;
    }
    return 0;
}

static int add_extraction(PyObject *st, PyObject *delta) {
    PyObject *cur = attr_get(st, s_extraction);
    if (!cur) return -1;
    PyObject *sum = PyNumber_Add(cur, delta);
    Py_DECREF(cur);
    return set_attr(st, s_extraction, sum);
}

/* The deferral of ProbingDetector.observe_batch for the events idx[a:b] of the current
 * window, the count going from c0 to c0 + b - a: their parameters are screened for
 * extraction at once (or join st.unjudged, a list the Python steps left), and once
 * the key is busy (from half of min_requests) their messages join busy.pending. */
static int defer(probe_ctx *x, Py_ssize_t a, Py_ssize_t b, long long c0) {
    if (b <= a) return 0;
    PyObject *st = x->st;
    long long c1 = c0 + (b - a);
    PyObject *pend = attr_get(st, s_unjudged);
    if (!pend) return -1;
    int rc = 0;
    if (pend == Py_None) {
        /* The parameters are screened now, as one event at a time would: reading
         * them here costs less than keeping a reference to each (and dropping it
         * when the window closes unjudged). What passes the screen is rare. */
        long long found = 0;
        Py_ssize_t np = PySequence_Fast_GET_SIZE(x->events);
        for (Py_ssize_t j = a; j < b && rc == 0; j++) {
            Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(x->idx, j));
            if (i == -1 && PyErr_Occurred()) { rc = -1; break; }
            if (i < 0 || i >= np) {
                PyErr_SetString(PyExc_IndexError, "event index out of range");
                rc = -1;
                break;
            }
            int t = x->screens ? x->screens[i] : 2;
            if (t == 0) continue;  /* the usual case: the parameters are not read again */
            PyObject *p = params_at(x, i);
            if (!p) { rc = -1; break; }
            if (t == 2) {  /* not read with the columns */
                if (!x->ps.tp) find_params_slots(p, &x->ps);
                t = extraction_screen(p, &x->ps);
            }
            if (t > 0) {
                PyObject *r = PyObject_CallMethodOneArg(x->det, s_extraction_like, p);
                t = r ? PyObject_IsTrue(r) : -1;
                Py_XDECREF(r);
                if (t > 0) found++;
            }
            Py_DECREF(p);
            if (t < 0) rc = -1;
        }
        if (rc == 0 && found) {
            PyObject *delta = PyLong_FromLongLong(found);
            if (!delta || add_extraction(st, delta) < 0) rc = -1;
            Py_XDECREF(delta);
        }
    } else {
        /* a list left by the Python steps: theirs is to count it when judged */
        if (!PyList_Check(pend)) {
            PyErr_SetString(PyExc_TypeError, "unjudged must be a list");
            rc = -1;
        } else if (x->params ? list_extend_at(pend, x->params, x->idx, a, b) < 0
                             : params_extend_at(x, pend, a, b) < 0) {
            rc = -1;
        } else if (PyList_GET_SIZE(pend) > x->cap) {
            PyObject *n = PyObject_CallMethodOneArg(x->det, s_count_extraction, pend);
            if (!n || add_extraction(st, n) < 0 ||
                attr_set(st, s_unjudged, Py_None) < 0)
                rc = -1;
            Py_XDECREF(n);
        }
    }
    Py_DECREF(pend);
    if (rc < 0) return -1;
    PyObject *busy = attr_get(st, s_busy);
    if (!busy) return -1;
    Py_ssize_t from = a;
    if (busy == Py_None) {
        /* no prompt statistics yet: from the min_requests // 2-th request on, the
         * messages are kept in st.early (the statistics are made when the key is
         * judged, in _judge, or when early outgrows the cap) */
        Py_DECREF(busy);
        if (c1 < x->half) return 0;
        long long skip = x->half - c0 - 1;
        if (skip > 0) from = a + (Py_ssize_t)skip;
        PyObject *early = attr_get(st, s_early);
        if (!early) return -1;
        if (early == Py_None) {
            Py_DECREF(early);
            early = PyList_New(0);
            if (!early || attr_set(st, s_early, early) < 0) {
                Py_XDECREF(early);
                return -1;
            }
        }
        if (!PyList_Check(early)) {
            PyErr_SetString(PyExc_TypeError, "early must be a list");
            rc = -1;
        } else if (list_extend_at(early, x->messages, x->idx, from, b) < 0) {
            rc = -1;
        } else if (PyList_GET_SIZE(early) > x->cap) {
            PyObject *made = PyObject_CallOneArg(x->make_busy, st);
            PyObject *r = made ? PyObject_CallMethodNoArgs(made, s_settle) : NULL;
            if (!r) rc = -1;
            Py_XDECREF(r);
            Py_XDECREF(made);
        }
        Py_DECREF(early);
        return rc;
    }
    {
        PyObject *pending = attr_get(busy, s_pending);
        if (!pending) rc = -1;
        else if (!PyList_Check(pending)) {
            PyErr_SetString(PyExc_TypeError, "pending must be a list");
            rc = -1;
        } else if (list_extend_at(pending, x->messages, x->idx, from, b) < 0) {
            rc = -1;
        } else if (PyList_GET_SIZE(pending) > x->cap) {
            PyObject *r = PyObject_CallMethodNoArgs(busy, s_settle);
            if (!r) rc = -1;
            Py_XDECREF(r);
        }
        Py_XDECREF(pending);
    }
    Py_DECREF(busy);
    return rc;
}

/* ProbingDetector.observe_batch for the events ``x->idx`` of the key ``x->st``, in
 * order (the columns' lengths already checked): the
 * tumbling window is rolled (ProbingDetector._close; its busy part is called back),
 * the deferral of observe_batch is done per window, and at min_requests and every
 * power of two above it the key is judged by calling back det._judge(event, st),
 * each finding appended to ``out`` as (event index, finding). Returns 1; 0, with
 * nothing changed, when a value is one C does not treat as Python does (a time that
 * is not a finite float, a count or window number beyond 2**53): the caller then
 * takes the Python path; -1 on error. */
static int probe_core(probe_ctx *x_, PyObject *ts, const double *times, PyObject *events,
                      double window, double alpha, long long mr, PyObject *out) {
    probe_ctx x = *x_;
    PyObject *st = x.st;
    if (!PyList_Check(x.idx)) {
        PyErr_SetString(PyExc_TypeError, "positions must be a list");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(x.idx), nts = PyList_GET_SIZE(ts);
    if (!(window > 0) || !isfinite(window) || mr < 1) return 0;
    double start, baseline;
    long long count, windows;
    int ok;
    if ((ok = get_double(st, s_start, &start)) <= 0 || (ok = get_int(st, s_count, &count)) <= 0 ||
        (ok = get_double(st, s_baseline, &baseline)) <= 0 ||
        (ok = get_int(st, s_windows, &windows)) <= 0) {
        if (ok < 0) return -1;
        return 0;
    }
    /* every time a finite float, and the window numbers they lead to within 2**53 */
    double lo = start, hi = start;
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(x.idx, j));
        if (i == -1 && PyErr_Occurred()) return -1;
        if (i < 0 || i >= nts) {
            PyErr_SetString(PyExc_IndexError, "event index out of range");
            return -1;
        }
        double v;
        if (times) {
            v = times[i];
        } else {
            PyObject *t = PyList_GET_ITEM(ts, i);
            if (!PyFloat_CheckExact(t)) return 0;
            v = PyFloat_AS_DOUBLE(t);
        }
        if (!isfinite(v)) return 0;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (!isfinite(start) || !((hi - lo) / window < EXACT_INT / 4) ||
        !(windows >= 0 && (double)windows < EXACT_INT / 4) || count < 0 ||
        (double)count + (double)n >= EXACT_INT)
        return 0;
    double keep = 1.0 - alpha;
    PyObject *start_src = NULL;  /* the time object ``start`` was taken from, if so */
    Py_ssize_t seg = 0;      /* events idx[seg:j] of the window are not deferred yet */
    long long c0 = count;    /* the count before idx[seg] */
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(x.idx, j));
        double now = times ? times[i] : PyFloat_AS_DOUBLE(PyList_GET_ITEM(ts, i));
        if (start < 0) {
            start = now;
            start_src = PyList_GET_ITEM(ts, i);
        } else if (now - start >= window) {
            /* a busy key's pending prompts are folded in when a full window closes */
            if (count >= mr && (set_long(st, s_count, count) < 0 || defer(&x, seg, j, c0) < 0))
                goto fail;
            double el = py_floor_div(now - start, window);
            long long elapsed = (long long)el;
            if (windows == 0) baseline = (double)count;
            else baseline = keep * baseline + alpha * (double)count;
            baseline *= pow(keep, (double)(elapsed - 1 > 0 ? elapsed - 1 : 0));
            windows += elapsed;
            start += (double)elapsed * window;
            PyObject *busy = attr_get(st, s_busy);
            if (!busy) goto fail;
            int has_busy = busy != Py_None;
            Py_DECREF(busy);
            /* what was kept for statistics never made goes with the window */
            PyObject *early = attr_get(st, s_early);
            if (!early) goto fail;
            int had_early = early != Py_None;
            Py_DECREF(early);
            if (had_early && attr_set(st, s_early, Py_None) < 0) goto fail;
            if (has_busy && count < mr) {
                /* ProbingDetector._close_busy of a key that went quiet: its prompt
                 * statistics are dropped (what it clears goes with them) */
                if (attr_set(st, s_busy, Py_None) < 0) goto fail;
            } else if (has_busy) {
                if (set_double(st, s_start, start, start_src) < 0 ||
                    set_long(st, s_count, count) < 0 ||
                    set_double(st, s_baseline, baseline, NULL) < 0 ||
                    set_long(st, s_windows, windows) < 0)
                    goto fail;
                PyObject *r = PyObject_CallMethodOneArg(x.det, s_close_busy, st);
                if (!r) goto fail;
                Py_DECREF(r);
            }
            count = 0;
            if (set_attr(st, s_extraction, (Py_INCREF(py_zero), py_zero)) < 0 ||
                attr_set(st, s_unjudged, Py_None) < 0 ||
                set_attr(st, s_reported, (Py_INCREF(py_zero), py_zero)) < 0)
                goto fail;
            seg = j;
            c0 = 0;
        }
        count++;
        if (count >= mr && (count == mr || (count & (count - 1)) == 0)) {
            if (defer(&x, seg, j + 1, c0) < 0) goto fail;
            seg = j + 1;
            c0 = count;
            if (set_double(st, s_start, start, start_src) < 0 ||
                set_long(st, s_count, count) < 0 ||
                set_double(st, s_baseline, baseline, NULL) < 0 ||
                set_long(st, s_windows, windows) < 0)
                goto fail;
            PyObject *ev = PySequence_GetItem(events, i);
            if (!ev) goto fail;
            PyObject *found = PyObject_CallMethodObjArgs(x.det, s_judge, ev, st, NULL);
            Py_DECREF(ev);
            if (!found) goto fail;
            PyObject *ff = PySequence_Fast(found, "_judge must return a list");
            Py_DECREF(found);
            if (!ff) goto fail;
            PyObject *pos = PyLong_FromSsize_t(i);
            int bad = pos == NULL;
            for (Py_ssize_t k = 0; !bad && k < PySequence_Fast_GET_SIZE(ff); k++) {
                PyObject *pair = PyTuple_Pack(2, pos, PySequence_Fast_GET_ITEM(ff, k));
                bad = !pair || PyList_Append(out, pair) < 0;
                Py_XDECREF(pair);
            }
            Py_XDECREF(pos);
            Py_DECREF(ff);
            if (bad) goto fail;
            /* _judge may have changed what the loop keeps in locals: read them back */
            if (get_double(st, s_start, &start) <= 0 || get_int(st, s_count, &count) <= 0 ||
                get_double(st, s_baseline, &baseline) <= 0 ||
                get_int(st, s_windows, &windows) <= 0) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "_judge left a state C cannot read");
                goto fail;
            }
        }
    }
    if (set_long(st, s_count, count) < 0 || defer(&x, seg, n, c0) < 0) goto fail;
    if (set_double(st, s_start, start, start_src) < 0 ||
        set_long(st, s_count, count) < 0 ||
        set_double(st, s_baseline, baseline, NULL) < 0 ||
        set_long(st, s_windows, windows) < 0)
        goto fail;
    return 1;
fail:
    return -1;
}

#define PROBE_ARGS_FORMAT "O!OO!OOddLnO!"

static int probe_columns(PyObject *ts, const probe_ctx *x, PyObject *events) {
    Py_ssize_t nts = PyList_GET_SIZE(ts);
    if ((x->params && PyList_GET_SIZE(x->params) != nts) ||
        PyList_GET_SIZE(x->messages) != nts || PySequence_Fast_GET_SIZE(events) != nts) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "columns differ in length");
        return -1;
    }
    return 0;
}

/* probe_batch(det, pairs, packed_ts, screens, ts, params, messages, events, make_busy,
 *             window, alpha, min_requests, cap, out) -> rest
 * (``params``: the parameters column, or None to read them from the events)
 * (``screens``: the extraction screen of each event as ``columns`` read it, or None)
 *
 * probe_core for each (state, positions) of ``pairs`` in turn (one call for a batch's
 * keys: the arguments are parsed once); ``rest``: the numbers of the pairs it left
 * to Python (their states unchanged). */
static PyObject *probe_batch(PyObject *mod, PyObject *args) {
    probe_ctx x;
    PyObject *pairs, *packed, *screens, *ts, *events, *out;
    double window, alpha;
    long long mr;
    Py_ssize_t cap;
    if (!PyArg_ParseTuple(args, "OO!OO" PROBE_ARGS_FORMAT, &x.det, &PyList_Type, &pairs,
                          &packed, &screens, &PyList_Type, &ts, &x.params,
                          &PyList_Type, &x.messages, &events, &x.make_busy, &window, &alpha,
                          &mr, &cap, &PyList_Type, &out))
        return NULL;
    if (x.params == Py_None) {
        x.params = NULL;
    } else if (!PyList_Check(x.params)) {
        PyErr_SetString(PyExc_TypeError, "params must be a list or None");
        return NULL;
    }
    x.screens = NULL;
    if (screens != Py_None) {
        if (!PyBytes_CheckExact(screens) || PyBytes_GET_SIZE(screens) != PyList_GET_SIZE(ts)) {
            PyErr_SetString(PyExc_ValueError, "screens do not fit the batch");
            return NULL;
        }
        x.screens = (const unsigned char *)PyBytes_AS_STRING(screens);
    }
    x.cap = cap;
    x.half = (Py_ssize_t)(mr / 2);
    x.events = PySequence_Fast(events, "events must be a sequence");
    if (!x.events) return NULL;
    if (probe_columns(ts, &x, x.events) < 0) {
        Py_DECREF(x.events);
        return NULL;
    }
    x.ps.tp = NULL;  /* found from the first parameters screened here */
    const double *times = packed_times(packed, PyList_GET_SIZE(ts));
    PyObject *rest = PyList_New(0);
    if (!rest) {
        Py_DECREF(x.events);
        return NULL;
    }
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(pairs); k++) {
        PyObject *pair = PyList_GET_ITEM(pairs, k);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "pairs must hold (state, positions) tuples");
            goto fail;
        }
        Py_INCREF(pair);  /* the callbacks could drop the list's reference */
        x.st = PyTuple_GET_ITEM(pair, 0);
        x.idx = PyTuple_GET_ITEM(pair, 1);
        int r = probe_core(&x, ts, times, x.events, window, alpha, mr, out);
        Py_DECREF(pair);
        if (r < 0) goto fail;
        if (r == 0) {
            PyObject *num = PyLong_FromSsize_t(k);
            if (!num || PyList_Append(rest, num) < 0) {
                Py_XDECREF(num);
                goto fail;
            }
            Py_DECREF(num);
        }
    }
    Py_DECREF(x.events);
    return rest;
fail:
    Py_DECREF(x.events);
    Py_DECREF(rest);
    return NULL;
}

/* ------------------------------------------------------------------ touch */

typedef struct {
    Py_ssize_t last;
    Py_ssize_t j;
} last_at;

static int by_last(const void *a, const void *b) {
    Py_ssize_t x = ((const last_at *)a)->last, y = ((const last_at *)b)->last;
    return (x > y) - (x < y);
}

/* move_touched(d, groups, ts, factory) -> list[(state, positions)]
 *
 * The last step of keyed_batch.touch, once its evictions are done: each key of
 * ``groups`` (key -> its positions, ascending) moves to the end of ``d`` (key ->
 * (time, state)) in the order of its last event, with that event's time; a key not
 * held gets ``factory()``. */
static PyObject *move_touched(PyObject *mod, PyObject *args) {
    PyObject *d, *groups, *ts, *factory;
    if (!PyArg_ParseTuple(args, "O!O!O!O", &PyDict_Type, &d, &PyDict_Type, &groups,
                          &PyList_Type, &ts, &factory))
        return NULL;
    Py_ssize_t n = PyDict_GET_SIZE(groups), nts = PyList_GET_SIZE(ts);
    PyObject **names = PyMem_Malloc((n ? n : 1) * sizeof(PyObject *));
    PyObject **positions = PyMem_Malloc((n ? n : 1) * sizeof(PyObject *));
    last_at *order = PyMem_Malloc((n ? n : 1) * sizeof(last_at));
    PyObject *out = PyList_New(0);
    if (!names || !positions || !order || !out) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t pos = 0, j = 0;
    PyObject *k, *v;
    while (PyDict_Next(groups, &pos, &k, &v)) {
        if (!PyList_Check(v) || PyList_GET_SIZE(v) == 0) {
            PyErr_SetString(PyExc_TypeError, "groups map keys to non-empty lists");
            goto fail;
        }
        Py_ssize_t last = PyLong_AsSsize_t(PyList_GET_ITEM(v, PyList_GET_SIZE(v) - 1));
        if (last == -1 && PyErr_Occurred()) goto fail;
        if (last < 0 || last >= nts) {
            PyErr_SetString(PyExc_IndexError, "position out of range");
            goto fail;
        }
        names[j] = k;
        positions[j] = v;
        order[j].last = last;
        order[j].j = j;
        j++;
    }
    qsort(order, (size_t)n, sizeof(last_at), by_last);
    for (Py_ssize_t q = 0; q < n; q++) {
        PyObject *key = names[order[q].j], *idx = positions[order[q].j];
        PyObject *hit = PyDict_GetItemWithError(d, key);
        PyObject *st;
        if (hit) {
            if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 2) {
                PyErr_SetString(PyExc_TypeError, "held entries are (time, state)");
                goto fail;
            }
            st = PyTuple_GET_ITEM(hit, 1);
            Py_INCREF(st);
            if (PyDict_DelItem(d, key) < 0) { Py_DECREF(st); goto fail; }
        } else {
            if (PyErr_Occurred()) goto fail;
            st = PyObject_CallNoArgs(factory);
            if (!st) goto fail;
        }
        PyObject *entry = PyTuple_Pack(2, PyList_GET_ITEM(ts, order[q].last), st);
        PyObject *pair = entry ? PyTuple_Pack(2, st, idx) : NULL;
        int bad = !pair || PyDict_SetItem(d, key, entry) < 0 || PyList_Append(out, pair) < 0;
        Py_XDECREF(entry);
        Py_XDECREF(pair);
        Py_DECREF(st);
        if (bad) goto fail;
    }
    PyMem_Free(names);
    PyMem_Free(positions);
    PyMem_Free(order);
    return out;
fail:
    PyMem_Free(names);
    PyMem_Free(positions);
    PyMem_Free(order);
    Py_XDECREF(out);
    return NULL;
}

/* ------------------------------------------------------------ user texts */

/* last_user_texts(messages) -> list[str]: for each tuple of messages, the content of
 * its last message whose role is "user" ("" if none) - probing.last_user_texts. The
 * tuples are a window's pending requests, long out of cache: the objects a few
 * tuples ahead are fetched while the current one is read. */
static PyObject *last_user_texts(PyObject *mod, PyObject *seq) {
    PyObject *fast = PySequence_Fast(seq, "messages must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    PyObject *out = PyList_New(n);
    if (!out) { Py_DECREF(fast); return NULL; }
    msg_slots ms = {NULL, -1, -1};
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + 4 < n) PREFETCH(items[i + 4]);
        if (i + 2 < n && PyTuple_CheckExact(items[i + 2]) && PyTuple_GET_SIZE(items[i + 2]))
            PREFETCH(PyTuple_GET_ITEM(items[i + 2], PyTuple_GET_SIZE(items[i + 2]) - 1));
        PyObject *m = items[i], *text = NULL;
        PyObject *mf = PySequence_Fast(m, "messages must be sequences");
        if (!mf) goto fail;
        for (Py_ssize_t k = PySequence_Fast_GET_SIZE(mf) - 1; k >= 0 && !text; k--) {
            PyObject *msg = PySequence_Fast_GET_ITEM(mf, k);
            if (!ms.tp) find_msg_slots(msg, &ms);
            PyObject *role = get_slot(msg, s_role, ms.tp, ms.role);
            if (!role) { Py_DECREF(mf); goto fail; }
            /* role == "user" as Python compares it (another type than str compares by
             * its own __eq__) */
            int is_user = PyUnicode_CheckExact(role)
                              ? role == s_user || PyUnicode_Compare(role, s_user) == 0
                              : PyObject_RichCompareBool(role, s_user, Py_EQ);
            Py_DECREF(role);
            if (is_user < 0) { Py_DECREF(mf); goto fail; }
            if (is_user) {
                text = get_slot(msg, s_content, ms.tp, ms.content);
                if (!text) { Py_DECREF(mf); goto fail; }
            }
        }
        Py_DECREF(mf);
        if (!text) text = PyUnicode_New(0, 0);
        if (!text) goto fail;
        PyList_SET_ITEM(out, i, text);
    }
    Py_DECREF(fast);
    return out;
fail:
    Py_DECREF(fast);
    Py_DECREF(out);
    return NULL;
}

/* --------------------------------------------------------------- same_items */

/* same_items(a, b) -> bool: a and b (lists or tuples) hold the same objects, in the
 * same order (compared by identity; keyed_batch.columns asks it of every consumer of
 * a batch's columns, so it is a pointer comparison per event). */
static PyObject *same_items(PyObject *mod, PyObject *args) {
    PyObject *a, *b;
    if (!PyArg_ParseTuple(args, "OO", &a, &b)) return NULL;
    PyObject *fa = PySequence_Fast(a, "a sequence"), *fb = fa ? PySequence_Fast(b, "a sequence")
                                                               : NULL;
    if (!fb) {
        Py_XDECREF(fa);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fa);
    int same = n == PySequence_Fast_GET_SIZE(fb) &&
               (n == 0 || memcmp(PySequence_Fast_ITEMS(fa), PySequence_Fast_ITEMS(fb),
                                 (size_t)n * sizeof(PyObject *)) == 0);
    Py_DECREF(fa);
    Py_DECREF(fb);
    return PyBool_FromLong(same);
}

/* ---------------------------------------------------------------- release */

/* release(lists): empty each list held only by its owner and by ``lists``, fetching
 * the objects whose references are dropped ahead of dropping them (a batch's
 * columns refer to objects far apart in memory: one by one, each reference count
 * touched is a cache miss). A list someone else holds is left as it is. */
static PyObject *release(PyObject *mod, PyObject *lists) {
    PyObject *fast = PySequence_Fast(lists, "lists must be a sequence");
    if (!fast) return NULL;
    for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(fast); k++) {
        PyObject *l = PySequence_Fast_GET_ITEM(fast, k);
        if (!PyList_Check(l) || Py_REFCNT(l) > 2) continue;
        Py_ssize_t n = PyList_GET_SIZE(l);
        PyObject **items = PySequence_Fast_ITEMS(l);
        for (Py_ssize_t i = 0; i < n; i++) PREFETCH(items[i]);
        if (PyList_SetSlice(l, 0, n, NULL) < 0) {
            Py_DECREF(fast);
            return NULL;
        }
    }
    Py_DECREF(fast);
    Py_RETURN_NONE;
}

/* -------------------------------------------------------------- SlotMaker */

/* SlotMaker(cls, names): a callable making instances of ``cls`` (a class with
 * __slots__ and plain attribute access, such as a frozen dataclass with slots) from
 * one value per name, stored in the slots in that order; ``cls.__init__`` is not
 * run. A frozen dataclass's __init__ stores each field through object.__setattr__,
 * which costs more than a finding's other work; the detectors make a finding per
 * rule hit, and a campaign's replayed prompt one per event. */
typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    Py_ssize_t n;
    Py_ssize_t *off;
    vectorcallfunc vectorcall;
} SlotMakerObject;

static PyTypeObject SlotMakerType;

static PyObject *slotmaker_call(SlotMakerObject *self, PyObject *const *args, size_t nargsf,
                                PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames && PyTuple_GET_SIZE(kwnames)) {
        PyErr_SetString(PyExc_TypeError, "SlotMaker takes positional values only");
        return NULL;
    }
    if (nargs != self->n) {
        PyErr_Format(PyExc_TypeError, "%s needs %zd values, not %zd", self->cls->tp_name,
                     self->n, nargs);
        return NULL;
    }
    PyObject *o = self->cls->tp_alloc(self->cls, 0);
    if (!o) return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        Py_INCREF(args[i]);
        *(PyObject **)((char *)o + self->off[i]) = args[i];
    }
    return o;
}

static int slotmaker_init(SlotMakerObject *self, PyObject *args, PyObject *kwds) {
    PyObject *cls, *names;
    if (!PyArg_ParseTuple(args, "O!O", &PyType_Type, &cls, &names)) return -1;
    PyTypeObject *tp = (PyTypeObject *)cls;
    if (tp->tp_getattro != PyObject_GenericGetAttr || tp->tp_dictoffset != 0 ||
        tp->tp_alloc != PyType_GenericAlloc) {
        PyErr_SetString(PyExc_TypeError, "SlotMaker needs a class with plain __slots__");
        return -1;
    }
    PyObject *fast = PySequence_Fast(names, "names must be a sequence");
    if (!fast) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    Py_ssize_t *off = PyMem_Calloc((size_t)(n ? n : 1), sizeof(Py_ssize_t));
    if (!off) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PySequence_Fast_GET_ITEM(fast, i);
        PyObject *d = PyUnicode_Check(name) ? _PyType_Lookup(tp, name) : NULL;
        PyMemberDef *m = d && Py_IS_TYPE(d, &PyMemberDescr_Type)
                             ? ((PyMemberDescrObject *)d)->d_member : NULL;
        if (!m || m->type != T_OBJECT_EX || (m->flags & READONLY)) {
            PyErr_Format(PyExc_TypeError, "%R is not a slot of %s", name, tp->tp_name);
            PyMem_Free(off);
            Py_DECREF(fast);
            return -1;
        }
        for (Py_ssize_t j = 0; j < i; j++) {
            if (off[j] == m->offset) {
                PyErr_Format(PyExc_TypeError, "%R is named twice", name);
                PyMem_Free(off);
                Py_DECREF(fast);
                return -1;
            }
        }
        off[i] = m->offset;
    }
    Py_DECREF(fast);
    PyMem_Free(self->off);
    Py_INCREF(cls);
    Py_XSETREF(self->cls, tp);
    self->n = n;
    self->off = off;
    self->vectorcall = (vectorcallfunc)slotmaker_call;
    return 0;
}

static void slotmaker_dealloc(SlotMakerObject *self) {
    Py_XDECREF(self->cls);
    PyMem_Free(self->off);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *slotmaker_tp_call(SlotMakerObject *self, PyObject *args, PyObject *kwds) {
    if (!self->cls) {
        PyErr_SetString(PyExc_TypeError, "SlotMaker not initialized");
        return NULL;
    }
    if (kwds && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError, "SlotMaker takes positional values only");
        return NULL;
    }
    return slotmaker_call(self, &PyTuple_GET_ITEM(args, 0), (size_t)PyTuple_GET_SIZE(args),
                          NULL);
}

static PyTypeObject SlotMakerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ircon.detect._fast.SlotMaker",
    .tp_basicsize = sizeof(SlotMakerObject),
    .tp_dealloc = (destructor)slotmaker_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "SlotMaker(cls, names): makes cls instances from one value per slot name.",
    .tp_vectorcall_offset = offsetof(SlotMakerObject, vectorcall),
    .tp_call = (ternaryfunc)slotmaker_tp_call,
    .tp_init = (initproc)slotmaker_init,
    .tp_new = PyType_GenericNew,
};

/* -------------------------------------------------------------- needs_met */

/* One literal of ``lits`` (a tuple of str) is in ``text`` (len n, ASCII data ``p``). */
static int any_in(const char *p, Py_ssize_t n, PyObject *lits) {
    Py_ssize_t k = PyTuple_GET_SIZE(lits);
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *lit = PyTuple_GET_ITEM(lits, j);
        if (!PyUnicode_IS_ASCII(lit)) continue;  /* never in ASCII text */
        Py_ssize_t m = PyUnicode_GET_LENGTH(lit);
        if (m <= n && memmem(p, (size_t)n, PyUnicode_DATA(lit), (size_t)m)) return 1;
    }
    return 0;
}

/* needs_met(low, alternatives) -> bool: prefilter.Requirement.possible for an ASCII
 * text: some alternative (a tuple of needs) has every need (a tuple of str) met by
 * one of its literals being in ``low``. */
static PyObject *needs_met(PyObject *mod, PyObject *args) {
    PyObject *low, *alts;
    if (!PyArg_ParseTuple(args, "UO!", &low, &PyTuple_Type, &alts)) return NULL;
    if (!PyUnicode_IS_ASCII(low)) {
        PyErr_SetString(PyExc_ValueError, "needs_met takes ASCII text");
        return NULL;
    }
    const char *p = (const char *)PyUnicode_DATA(low);
    Py_ssize_t n = PyUnicode_GET_LENGTH(low);
    for (Py_ssize_t a = 0; a < PyTuple_GET_SIZE(alts); a++) {
        PyObject *needs = PyTuple_GET_ITEM(alts, a);
        if (!PyTuple_Check(needs)) goto bad;
        Py_ssize_t k = PyTuple_GET_SIZE(needs), j = 0;
        for (; j < k; j++) {
            PyObject *lits = PyTuple_GET_ITEM(needs, j);
            if (!PyTuple_Check(lits)) goto bad;
            for (Py_ssize_t q = 0; q < PyTuple_GET_SIZE(lits); q++)
                if (!PyUnicode_Check(PyTuple_GET_ITEM(lits, q))) goto bad;
            if (!any_in(p, n, lits)) break;
        }
        if (j == k) Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
bad:
    PyErr_SetString(PyExc_TypeError, "alternatives: tuples of tuples of tuples of str");
    return NULL;
}

/* -------------------------------------------------------------- join_utf8 */

/* join_utf8(texts) -> (buf, odd): the texts as UTF-8 (lone surrogates kept, as with
 * "surrogatepass"), a NUL after each but the last, in one buffer; a text holding a
 * NUL is left empty in it and its position listed in ``odd`` (a tuple). What
 * multimatch.Joined builds with str.join and str.encode, without the intermediate
 * string: ASCII texts are copied where they lie. */
static PyObject *join_utf8(PyObject *mod, PyObject *seq) {
    PyObject *fast = PySequence_Fast(seq, "texts must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    PyObject *encoded = NULL, *odd = NULL, *buf = NULL, *result = NULL;
    /* the UTF-8 of the non-ASCII texts, made in the first pass (None for the others) */
    encoded = PyList_New(n);
    odd = PyList_New(0);
    if (!encoded || !odd) goto done;
    Py_ssize_t total = n > 0 ? n - 1 : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = items[i];
        if (i + 1 < n) PREFETCH(items[i + 1]);
        if (!PyUnicode_Check(t)) {
            PyErr_SetString(PyExc_TypeError, "texts must be str");
            goto done;
        }
        Py_ssize_t len;
        const char *data;
        if (PyUnicode_IS_ASCII(t)) {
            len = PyUnicode_GET_LENGTH(t);
            data = (const char *)PyUnicode_DATA(t);
            Py_INCREF(Py_None);
            PyList_SET_ITEM(encoded, i, Py_None);
        } else {
            PyObject *b = PyUnicode_AsEncodedString(t, "utf-8", "surrogatepass");
            if (!b) goto done;
            PyList_SET_ITEM(encoded, i, b);
            len = PyBytes_GET_SIZE(b);
            data = PyBytes_AS_STRING(b);
        }
        if (len && memchr(data, 0, (size_t)len)) {
            PyObject *k = PyLong_FromSsize_t(i);
            if (!k || PyList_Append(odd, k) < 0) {
                Py_XDECREF(k);
                goto done;
            }
            Py_DECREF(k);
            continue;
        }
        total += len;
    }
    buf = PyBytes_FromStringAndSize(NULL, total);
    if (!buf) goto done;
    char *out = PyBytes_AS_STRING(buf);
    Py_ssize_t nodd = PyList_GET_SIZE(odd), next_odd = 0;
    Py_ssize_t odd_at = nodd ? PyLong_AsSsize_t(PyList_GET_ITEM(odd, 0)) : -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = items[i], *b = PyList_GET_ITEM(encoded, i);
        if (i + 1 < n) PREFETCH(PyUnicode_DATA(items[i + 1]));
        if (i == odd_at) {
            next_odd++;
            odd_at = next_odd < nodd ? PyLong_AsSsize_t(PyList_GET_ITEM(odd, next_odd)) : -1;
        } else if (b == Py_None) {
            Py_ssize_t len = PyUnicode_GET_LENGTH(t);
            memcpy(out, PyUnicode_DATA(t), (size_t)len);
            out += len;
        } else {
            memcpy(out, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
            out += PyBytes_GET_SIZE(b);
        }
        if (i + 1 < n) *out++ = 0;
    }
    PyObject *odd_t = PyList_AsTuple(odd);
    if (!odd_t) goto done;
    result = PyTuple_Pack(2, buf, odd_t);
    Py_DECREF(odd_t);
done:
    Py_XDECREF(buf);
    Py_XDECREF(odd);
    Py_XDECREF(encoded);
    Py_DECREF(fast);
    return result;
}

/* ----------------------------------------------------------------- module */

static PyMethodDef module_methods[] = {
    {"release", (PyCFunction)release, METH_O,
     "release(lists): empty each list, its objects fetched ahead"},
    {"move_touched", (PyCFunction)move_touched, METH_VARARGS,
     "move_touched(d, groups, ts, factory) -> list of (state, positions)"},
    {"spend_totals", (PyCFunction)spend_totals, METH_VARARGS,
     "spend_totals(prompt_tokens, completion_tokens, costs) -> (tokens, costs, sel) | None"},
    {"columns", (PyCFunction)columns, METH_VARARGS,
     "columns(events, app_roles, protected_roles, current_turn) -> columns, groupings"},
    {"probe_batch", (PyCFunction)probe_batch, METH_VARARGS,
     "probe_batch(det, pairs, packed_ts, screens, ts, params, messages, events, make_busy, "
     "window, alpha, min_requests, cap, out) -> numbers of the pairs left to Python"},
    {"spend_batch", (PyCFunction)spend_batch, METH_VARARGS,
     "spend_batch(pairs, packed_ts, packed_spend, ts, tokens, costs, window, alpha, "
     "base_windows, "
     "factor, min_tokens, new_tokens, min_cost, new_cost) -> (crossings, numbers left to "
     "Python)"},
    {"suffix_tail", (PyCFunction)suffix_tail, METH_VARARGS,
     "suffix_tail(tail, vocab) -> the statistics suffix.features counts in an ASCII tail"},
    {"suffix_frags", (PyCFunction)suffix_frags, METH_VARARGS,
     "suffix_frags(text, vocab) -> (fragments, fragments not in vocab) of an ASCII text"},
    {"last_user_texts", (PyCFunction)last_user_texts, METH_O,
     "last_user_texts(messages) -> the content of each one's last user message"},
    {"same_items", (PyCFunction)same_items, METH_VARARGS,
     "same_items(a, b) -> bool: the same objects in the same order"},
    {"needs_met", (PyCFunction)needs_met, METH_VARARGS,
     "needs_met(low, alternatives) -> bool: prefilter.Requirement.possible, in C"},
    {"join_utf8", (PyCFunction)join_utf8, METH_O,
     "join_utf8(texts) -> (UTF-8 joined by NULs, positions of texts holding NUL)"},
    {"group", (PyCFunction)group, METH_O,
     "group(keys) -> dict: positions of each distinct key, in order of first occurrence"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "ircon.detect._fast",
    "C loops for the detectors' hot paths (each has a pure-Python twin).", -1,
    module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fast(void) {
    init_breaks();
    s_messages = PyUnicode_InternFromString("messages");
    s_role = PyUnicode_InternFromString("role");
    s_content = PyUnicode_InternFromString("content");
    s_user = PyUnicode_InternFromString("user");
    s_assistant = PyUnicode_InternFromString("assistant");
    s_start = PyUnicode_InternFromString("start");
    s_tokens = PyUnicode_InternFromString("tokens");
    s_cost = PyUnicode_InternFromString("cost");
    s_base_tokens = PyUnicode_InternFromString("base_tokens");
    s_base_cost = PyUnicode_InternFromString("base_cost");
    s_windows = PyUnicode_InternFromString("windows");
    s_reported = PyUnicode_InternFromString("reported");
    if (!s_messages || !s_role || !s_content || !s_user || !s_assistant || !s_start ||
        !s_tokens || !s_cost || !s_base_tokens || !s_base_cost || !s_windows || !s_reported)
        return NULL;
    s_count = PyUnicode_InternFromString("count");
    s_extraction = PyUnicode_InternFromString("extraction");
    s_baseline = PyUnicode_InternFromString("baseline");
    s_busy = PyUnicode_InternFromString("busy");
    s_early = PyUnicode_InternFromString("early");
    s_unjudged = PyUnicode_InternFromString("unjudged");
    s_pending = PyUnicode_InternFromString("pending");
    s_settle = PyUnicode_InternFromString("settle");
    s_extraction_like = PyUnicode_InternFromString("_extraction_like");
    s_count_extraction = PyUnicode_InternFromString("_count_extraction");
    s_judge = PyUnicode_InternFromString("_judge");
    s_close_busy = PyUnicode_InternFromString("_close_busy");
    s_logprobs = PyUnicode_InternFromString("logprobs");
    s_top_logprobs = PyUnicode_InternFromString("top_logprobs");
    s_logit_bias_size = PyUnicode_InternFromString("logit_bias_size");
    s_n = PyUnicode_InternFromString("n");
    s_temperature = PyUnicode_InternFromString("temperature");
    py_zero = PyLong_FromLong(0);
    py_one = PyLong_FromLong(1);
    if (!py_zero || !py_one) return NULL;
    if (!s_count || !s_extraction || !s_baseline || !s_busy || !s_early || !s_unjudged || !s_pending || !s_settle || !s_extraction_like || !s_count_extraction || !s_judge || !s_close_busy || !s_logprobs || !s_top_logprobs || !s_logit_bias_size || !s_n || !s_temperature)
        return NULL;
    s_ts = PyUnicode_InternFromString("ts");
    s_key = PyUnicode_InternFromString("key");
    s_user_attr = PyUnicode_InternFromString("user");
    s_ip = PyUnicode_InternFromString("ip");
    s_team = PyUnicode_InternFromString("team");
    s_params = PyUnicode_InternFromString("params");
    s_response = PyUnicode_InternFromString("response");
    s_prompt_tokens = PyUnicode_InternFromString("prompt_tokens");
    s_completion_tokens = PyUnicode_InternFromString("completion_tokens");
    s_unknown = PyUnicode_InternFromString("unknown");
    if (!s_ts || !s_key || !s_user_attr || !s_ip || !s_team || !s_params || !s_response ||
        !s_prompt_tokens || !s_completion_tokens || !s_unknown)
        return NULL;
    if (PyType_Ready(&GateType) < 0 || PyType_Ready(&SuffixGateType) < 0 ||
        PyType_Ready(&TrigramsType) < 0 || PyType_Ready(&SlotMakerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    Py_INCREF(&GateType);
    if (PyModule_AddObject(m, "Gate", (PyObject *)&GateType) < 0) {
        Py_DECREF(&GateType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&SuffixGateType);
    if (PyModule_AddObject(m, "SuffixGate", (PyObject *)&SuffixGateType) < 0) {
        Py_DECREF(&SuffixGateType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&TrigramsType);
    if (PyModule_AddObject(m, "Trigrams", (PyObject *)&TrigramsType) < 0) {
        Py_DECREF(&TrigramsType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&SlotMakerType);
    if (PyModule_AddObject(m, "SlotMaker", (PyObject *)&SlotMakerType) < 0) {
        Py_DECREF(&SlotMakerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
