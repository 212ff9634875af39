# -*- test-case-name: tests.test_sipcredentials -*-
"""
Tests for L{twisted_sctp.sip.credentials}: Digest credentials against
Twisted's strcred checkers (C{memory:}, C{file:}) and our HA1 file checker.
"""

from __future__ import annotations

import io
import os
import sys

from zope.interface.verify import verifyObject

from twisted.cred import strcred
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernameDigestHash, IUsernameHashedPassword
from twisted.internet import defer
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.sip.credentials import DigestAuthenticator, HA1CheckerFactory, HA1FileChecker, SIPDigestCredentials, ha1Line, main
from twisted_sctp.sip.digest import DigestResponse, calcHA1, calcResponse

REALM = "example.com"


def credentials(user: str, password: bytes, algorithm: str = "MD5", realm: str = REALM, method: str = "REGISTER") -> SIPDigestCredentials:
    """
    @return: the credentials a client with C{password} sends.
    """
    digest = DigestResponse(user, realm, "nonce", "sip:example.com", "", algorithm, "auth", 1, "cn")
    response = calcResponse(calcHA1(algorithm, user, realm, password), method, digest)
    return SIPDigestCredentials(DigestResponse(user, realm, "nonce", "sip:example.com", response, algorithm, "auth", 1, "cn"), method)


class CredentialsTests(SynchronousTestCase):
    """
    L{SIPDigestCredentials}.
    """

    def test_interfaces(self) -> None:
        """
        They provide IUsernameHashedPassword and IUsernameDigestHash, with
        the user name as bytes.
        """
        creds = credentials("alice", b"secret1")
        verifyObject(IUsernameHashedPassword, creds)
        verifyObject(IUsernameDigestHash, creds)
        self.assertEqual(creds.username, b"alice")

    def test_checkPassword(self) -> None:
        """
        checkPassword takes str or bytes, for both algorithms; the wrong
        password and the wrong method fail.
        """
        for algorithm in ("MD5", "SHA-256"):
            creds = credentials("alice", b"secret1", algorithm)
            self.assertTrue(creds.checkPassword("secret1"))
            self.assertTrue(creds.checkPassword(b"secret1"))
            self.assertFalse(creds.checkPassword("secret2"))
        creds = credentials("alice", b"secret1", method="INVITE")
        creds.method = "REGISTER"
        self.assertFalse(creds.checkPassword("secret1"))

    def test_checkHash(self) -> None:
        """
        checkHash takes the HA1 of the algorithm.
        """
        creds = credentials("alice", b"secret1", "SHA-256")
        self.assertTrue(creds.checkHash(calcHA1("SHA-256", "alice", REALM, b"secret1")))
        self.assertFalse(creds.checkHash(calcHA1("MD5", "alice", REALM, b"secret1")))

    def test_reprHidesSecrets(self) -> None:
        """
        repr() names the user but not the response.
        """
        creds = credentials("alice", b"secret1")
        self.assertIn("alice", repr(creds))
        self.assertNotIn(creds.digest.response, repr(creds))


def verified(authenticator: DigestAuthenticator, creds: SIPDigestCredentials) -> bool:
    return bool(SynchronousTestCase().successResultOf(authenticator.verify(creds)))


class CheckerTests(SynchronousTestCase):
    """
    The checkers C{--auth} builds, through L{DigestAuthenticator}.
    """

    def test_memory(self) -> None:
        """
        strcred's memory: checker (str names) verifies both algorithms,
        synchronously; unknown users and wrong passwords fail.
        """
        auth = DigestAuthenticator([strcred.makeChecker("memory:alice:secret1:bob:secret2")])
        self.assertTrue(verified(auth, credentials("alice", b"secret1")))
        self.assertTrue(verified(auth, credentials("bob", b"secret2", "SHA-256")))
        self.assertFalse(verified(auth, credentials("bob", b"secret1")))
        self.assertFalse(verified(auth, credentials("carol", b"secret1")))

    def test_file(self) -> None:
        """
        strcred's file: checker reads user:password lines (again on each
        lookup: a user added to the file counts at once).
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("alice:secret1\n")
        auth = DigestAuthenticator([strcred.makeChecker("file:" + path)])
        self.assertTrue(verified(auth, credentials("alice", b"secret1", "SHA-256")))
        self.assertFalse(verified(auth, credentials("bob", b"secret2")))
        with open(path, "a") as f:
            f.write("bob:secret2\n")
        self.assertTrue(verified(auth, credentials("bob", b"secret2")))

    def test_ha1File(self) -> None:
        """
        An ha1: file of ha1Line()s verifies both algorithms; a line with only
        the MD5 field verifies MD5 only; the realm must match; comments and
        junk lines are skipped.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("# users\n\njunk\n" + ha1Line("alice", REALM, b"secret1") + "\n")
            f.write("bob:{}:{}\n".format(REALM, calcHA1("MD5", "bob", REALM, b"secret2")))
        checker = HA1CheckerFactory().generateChecker(path)
        verifyObject(ICredentialsChecker, checker)
        auth = DigestAuthenticator([checker])
        self.assertTrue(verified(auth, credentials("alice", b"secret1")))
        self.assertTrue(verified(auth, credentials("alice", b"secret1", "SHA-256")))
        self.assertFalse(verified(auth, credentials("alice", b"secret2")))
        self.assertTrue(verified(auth, credentials("bob", b"secret2")))
        self.assertFalse(verified(auth, credentials("bob", b"secret2", "SHA-256")))
        self.assertFalse(verified(auth, credentials("alice", b"secret1", realm="example.org")))
        with open(path) as f:
            self.assertNotIn("secret1", f.read())

    def test_ha1Missing(self) -> None:
        """
        An unreadable ha1 file refuses everyone (no crash).
        """
        auth = DigestAuthenticator([HA1FileChecker(os.path.join(self.mktemp(), "none"))])
        self.assertFalse(verified(auth, credentials("alice", b"secret1")))

    def test_ha1Plugin(self) -> None:
        """
        --auth ha1:PATH finds our strcred plugin.
        """
        self.assertIsInstance(strcred.makeChecker("ha1:/nonexistent"), HA1FileChecker)
        self.assertRaises(ValueError, HA1CheckerFactory().generateChecker, " ")

    def test_order(self) -> None:
        """
        Checkers are asked in turn until one accepts; checkers that cannot
        take our credentials are left out.
        """
        plain = strcred.makeChecker("anonymous")
        auth = DigestAuthenticator([plain, strcred.makeChecker("memory:alice:a"), strcred.makeChecker("memory:bob:b")])
        self.assertEqual(len(auth.checkers), 2)
        self.assertTrue(verified(auth, credentials("bob", b"b")))
        self.assertFalse(verified(DigestAuthenticator([]), credentials("bob", b"b")))

    def test_asynchronousChecker(self) -> None:
        """
        A checker that answers later is waited for; one that errors refuses.
        """
        later: defer.Deferred[bytes] = defer.Deferred()

        class Later:
            credentialInterfaces = (IUsernameHashedPassword,)

            def requestAvatarId(self, c: object) -> defer.Deferred[bytes]:
                return later

        class Broken:
            credentialInterfaces = (IUsernameHashedPassword,)

            def requestAvatarId(self, c: object) -> None:
                raise RuntimeError("database down")

        d = DigestAuthenticator([Broken(), Later()]).verify(credentials("bob", b"b"))
        self.assertNoResult(d)
        later.callback(b"bob")
        self.assertTrue(self.successResultOf(d))


class MainTests(SynchronousTestCase):
    """
    C{python -m twisted_sctp.sip.credentials USER REALM}.
    """

    def test_line(self) -> None:
        """
        It prints the ha1 line for the password on stdin; wrong usage is
        exit status 2.
        """
        out = io.StringIO()

        class In:
            buffer = io.BytesIO(b"secret1\n")

        self.patch(sys, "stdin", In)
        self.patch(sys, "stdout", out)
        self.assertEqual(main(["alice", REALM]), 0)
        self.assertEqual(out.getvalue(), ha1Line("alice", REALM, b"secret1") + "\n")
        self.patch(sys, "stderr", io.StringIO())
        self.assertEqual(main(["alice"]), 2)
