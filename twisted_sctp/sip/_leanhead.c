/*
 * twisted_sctp.sip._leanhead: the lean path's header-block splitter in C
 * (issue 10, lever 2).  Plain C, no Cython: setup.py builds it where a C
 * compiler exists, and the compiled lean module (twisted_sctp.sip._lean_c)
 * uses it in place of twisted_sctp.sip.lean._splitHead, the reference,
 * which it matches for every input (tests/test_leanhead.py).
 *
 *   splitHead(head) -> None | (names, lines)
 *
 * `head` is a SIP header block without its blank line (the start line, then
 * the header lines).  The result is None where the block is not of the
 * lean path's shape:
 *
 *   - a CR not followed by LF, an LF not preceded by CR, or any other
 *     control character (0x00-0x1f, 0x7f: HTAB included);
 *   - ":  " anywhere, a space before a line break, or at the very end;
 *   - a header line (every line after the first) whose first colon is
 *     missing or not followed by a space.
 *
 * Otherwise `lines` is head.split(b"\r\n") and `names` the tuple of the
 * header lines' names (what is before each one's first colon).
 *
 * One pass checks the bytes and counts the lines, a second builds the
 * objects: no allocation for a block that is refused.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

static PyObject *
leanhead_splitHead(PyObject *module, PyObject *head)
{
    const unsigned char *p;
    Py_ssize_t size, i, count, start, index;
    PyObject *names = NULL, *lines = NULL, *result;

    (void)module;
    if (!PyBytes_Check(head)) {
        PyErr_Format(PyExc_TypeError, "splitHead() takes bytes, not %.100s", Py_TYPE(head)->tp_name);
        return NULL;
    }
    p = (const unsigned char *)PyBytes_AS_STRING(head);
    size = PyBytes_GET_SIZE(head);

    count = 1;
    for (i = 0; i < size; i++) {
        unsigned char c = p[i];
        if (c < 0x20 || c == 0x7f) {
            if (c != '\r' || i + 1 >= size || p[i + 1] != '\n')
                Py_RETURN_NONE;
            if (i > 0 && p[i - 1] == ' ')
                Py_RETURN_NONE;
            count++;
            i++;
        }
        else if (c == ':' && i + 2 < size && p[i + 1] == ' ' && p[i + 2] == ' ') {
            Py_RETURN_NONE;
        }
    }
    if (size > 0 && p[size - 1] == ' ')
        Py_RETURN_NONE;

    /* Every CR now starts a CRLF and nothing else is a control byte, so
     * each line ends at the next CR (or the end). */
    names = PyTuple_New(count - 1);
    if (names == NULL)
        return NULL;
    lines = PyList_New(count);
    if (lines == NULL)
        goto fail;
    start = 0;
    for (index = 0; index < count; index++) {
        const unsigned char *line = p + start;
        const unsigned char *cr = memchr(line, '\r', (size_t)(size - start));
        Py_ssize_t length = cr == NULL ? size - start : (Py_ssize_t)(cr - line);
        PyObject *item;

        if (index > 0) {
            const unsigned char *colon = memchr(line, ':', (size_t)length);
            if (colon == NULL || colon + 1 >= line + length || colon[1] != ' ') {
                Py_DECREF(names);
                Py_DECREF(lines);
                Py_RETURN_NONE;
            }
            item = PyBytes_FromStringAndSize((const char *)line, colon - line);
            if (item == NULL)
                goto fail;
            PyTuple_SET_ITEM(names, index - 1, item);
        }
        if (index == 0 && length == size) {
            Py_INCREF(head);
            item = head;
        }
        else {
            item = PyBytes_FromStringAndSize((const char *)line, length);
            if (item == NULL)
                goto fail;
        }
        PyList_SET_ITEM(lines, index, item);
        start += length + 2;
    }
    result = PyTuple_Pack(2, names, lines);
    Py_DECREF(names);
    Py_DECREF(lines);
    return result;

fail:
    Py_XDECREF(names);
    Py_XDECREF(lines);
    return NULL;
}

static PyMethodDef leanhead_methods[] = {
    {"splitHead", leanhead_splitHead, METH_O,
     "splitHead(head) -> None | (names, lines)\n\n"
     "The header block's lines (head.split(b'\\r\\n')) and the header names, or None where the block is not of\n"
     "the lean path's shape (twisted_sctp.sip.lean._splitHead, the reference, says which)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef leanhead_module = {
    PyModuleDef_HEAD_INIT,
    "twisted_sctp.sip._leanhead",
    "The lean path's header-block splitter (twisted_sctp.sip.lean._splitHead) in C.",
    -1,
    leanhead_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__leanhead(void)
{
    return PyModule_Create(&leanhead_module);
}
