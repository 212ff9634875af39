/*
 * twisted_sctp.kernel._mmsg: recvmmsg(2) for the kernel backend (issue 10,
 * lever 3).  Plain C, no Cython: setup.py builds it where a C compiler
 * exists; twisted_sctp.kernel.mmsg picks it, or recvmsg where it is absent.
 *
 *   recvmmsg(fd, data, slot, ancillary, ancillarySlot, count)
 *
 * reads up to `count` messages in one system call (MSG_DONTWAIT: it stops
 * at the empty queue) into caller-owned writable buffers: message i goes
 * into data[i*slot:(i+1)*slot] and its ancillary data into
 * ancillary[i*ancillarySlot:(i+1)*ancillarySlot], so nothing is allocated
 * per call but the results.  Each message comes back as socket.recvmsg
 * gives it: (data, [(level, type, bytes), ...], flags, address), address
 * (host, port) for IPv4, (host, port, flowinfo, scope_id) for IPv6, None
 * where the kernel gave none.  An empty queue is BlockingIOError, any other
 * failure OSError with the errno, bad arguments ValueError / TypeError.
 *
 * The GIL is kept across the call: the socket is non-blocking and the
 * call returns at once, and releasing and taking the GIL back would cost
 * more than the read on the hot path.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

/* The most messages one call reads (the module's MAX_COUNT). */
#define MAX_COUNT 64

static PyObject *
make_address(const struct sockaddr_storage *name, socklen_t length)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];

    if (length == 0)
        Py_RETURN_NONE;
    if (name->ss_family == AF_INET && length >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)name;
        if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host)) == NULL)
            return PyErr_SetFromErrno(PyExc_OSError);
        return Py_BuildValue("(si)", host, (int)ntohs(a->sin_port));
    }
    if (name->ss_family == AF_INET6 && length >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)name;
        if (a->sin6_scope_id != 0) {
            /* As socket.recvmsg: a scoped address names its interface
             * ("fe80::1%eth0"), which inet_ntop does not. */
            int rc = getnameinfo((const struct sockaddr *)a, sizeof(*a), host, sizeof(host), NULL, 0, NI_NUMERICHOST);
            if (rc != 0) {
                PyErr_Format(PyExc_OSError, "getnameinfo failed: %s", gai_strerror(rc));
                return NULL;
            }
        }
        else if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host)) == NULL)
            return PyErr_SetFromErrno(PyExc_OSError);
        return Py_BuildValue("(siII)", host, (int)ntohs(a->sin6_port), (unsigned int)ntohl(a->sin6_flowinfo),
                             (unsigned int)a->sin6_scope_id);
    }
    /* (Not a family the backend listens on: the raw family and bytes.) */
    return Py_BuildValue("(iy#)", (int)name->ss_family, (const char *)name, (Py_ssize_t)length);
}

/* The ancillary data of one message as socket.recvmsg gives it: a header
 * cut short by MSG_CTRUNC still names its level and type, with the bytes
 * that fit. */
static PyObject *
make_ancillary(const char *control, size_t length)
{
    PyObject *items = PyList_New(0);
    size_t offset = 0;

    if (items == NULL)
        return NULL;
    while (offset + sizeof(struct cmsghdr) <= length) {
        const struct cmsghdr *header = (const struct cmsghdr *)(control + offset);
        size_t claimed = header->cmsg_len, available = length - offset, size;
        PyObject *item;

        if (claimed < CMSG_LEN(0))
            break;
        size = (claimed < available ? claimed : available) - CMSG_LEN(0);
        item = Py_BuildValue("(iiy#)", header->cmsg_level, header->cmsg_type, (const char *)CMSG_DATA(header),
                             (Py_ssize_t)size);
        if (item == NULL || PyList_Append(items, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(items);
            return NULL;
        }
        Py_DECREF(item);
        if (CMSG_ALIGN(claimed) >= available)
            break;
        offset += CMSG_ALIGN(claimed);
    }
    return items;
}

static PyObject *
mmsg_recvmmsg(PyObject *self, PyObject *args)
{
    int fd, got, i;
    Py_buffer data, control;
    Py_ssize_t slot, controlSlot, count;
    struct mmsghdr headers[MAX_COUNT];
    struct iovec vectors[MAX_COUNT];
    struct sockaddr_storage names[MAX_COUNT];
    PyObject *result = NULL;

    (void)self;
    if (!PyArg_ParseTuple(args, "iw*nw*nn:recvmmsg", &fd, &data, &slot, &control, &controlSlot, &count))
        return NULL;
    if (count < 1 || count > MAX_COUNT) {
        PyErr_Format(PyExc_ValueError, "count must be 1 to %d, not %zd", MAX_COUNT, count);
        goto done;
    }
    if (slot < 1 || controlSlot < 0) {
        PyErr_SetString(PyExc_ValueError, "the data slot must be at least 1 byte, the ancillary slot at least 0");
        goto done;
    }
    if (slot > data.len / count || (controlSlot > 0 && controlSlot > control.len / count)) {
        PyErr_Format(PyExc_ValueError, "the buffers are too small for %zd slots of %zd and %zd bytes", count, slot,
                     controlSlot);
        goto done;
    }
    memset(headers, 0, sizeof(headers[0]) * (size_t)count);
    for (i = 0; i < count; i++) {
        vectors[i].iov_base = (char *)data.buf + slot * i;
        vectors[i].iov_len = (size_t)slot;
        headers[i].msg_hdr.msg_name = &names[i];
        headers[i].msg_hdr.msg_namelen = sizeof(names[i]);
        headers[i].msg_hdr.msg_iov = &vectors[i];
        headers[i].msg_hdr.msg_iovlen = 1;
        if (controlSlot > 0) {
            headers[i].msg_hdr.msg_control = (char *)control.buf + controlSlot * i;
            headers[i].msg_hdr.msg_controllen = (size_t)controlSlot;
        }
    }
    for (;;) {
        got = recvmmsg(fd, headers, (unsigned int)count, MSG_DONTWAIT, NULL);
        if (got >= 0)
            break;
        if (errno != EINTR) {
            PyErr_SetFromErrno(PyExc_OSError);
            goto done;
        }
        if (PyErr_CheckSignals() < 0)
            goto done;
    }
    result = PyList_New(got);
    if (result == NULL)
        goto done;
    for (i = 0; i < got; i++) {
        const struct msghdr *header = &headers[i].msg_hdr;
        size_t length = headers[i].msg_len < (size_t)slot ? headers[i].msg_len : (size_t)slot;
        PyObject *payload, *ancillary, *address, *item;

        payload = PyBytes_FromStringAndSize((const char *)vectors[i].iov_base, (Py_ssize_t)length);
        ancillary = payload == NULL ? NULL : make_ancillary((const char *)header->msg_control, header->msg_control == NULL ? 0 : header->msg_controllen);
        address = ancillary == NULL ? NULL : make_address(&names[i], header->msg_namelen);
        if (address == NULL) {
            Py_XDECREF(payload);
            Py_XDECREF(ancillary);
            Py_CLEAR(result);
            goto done;
        }
        item = PyTuple_New(4);
        if (item == NULL) {
            Py_DECREF(payload);
            Py_DECREF(ancillary);
            Py_DECREF(address);
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(item, 0, payload);
        PyTuple_SET_ITEM(item, 1, ancillary);
        PyTuple_SET_ITEM(item, 2, PyLong_FromLong((long)header->msg_flags));
        PyTuple_SET_ITEM(item, 3, address);
        if (PyTuple_GET_ITEM(item, 2) == NULL) {
            Py_DECREF(item);
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, item);
    }
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&control);
    return result;
}

static PyMethodDef mmsg_methods[] = {
    {"recvmmsg", mmsg_recvmmsg, METH_VARARGS,
     "recvmmsg(fd, data, slot, ancillary, ancillarySlot, count) -> [(data, ancdata, flags, address), ...]\n\n"
     "Read up to count queued messages in one recvmmsg(2) call (MSG_DONTWAIT) into the caller's writable\n"
     "buffers, slot bytes of data and ancillarySlot bytes of ancillary data each; each message as\n"
     "socket.recvmsg gives it.  An empty queue raises BlockingIOError."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef mmsg_module = {
    PyModuleDef_HEAD_INIT,
    "twisted_sctp.kernel._mmsg",
    "recvmmsg(2) for the kernel backend (twisted_sctp.kernel.mmsg).",
    -1,
    mmsg_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__mmsg(void)
{
    PyObject *module = PyModule_Create(&mmsg_module);

    if (module == NULL)
        return NULL;
    if (PyModule_AddIntConstant(module, "MAX_COUNT", MAX_COUNT) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
