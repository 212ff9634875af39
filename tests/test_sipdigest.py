# -*- test-case-name: tests.test_sipdigest -*-
"""
Tests for L{twisted_sctp.sip.digest}: the RFC 2617 and RFC 7616 test
vectors, the header codec (with hypothesis fuzzing of both parsers),
stateless nonces and nonce-count replay tracking.
"""

from __future__ import annotations

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.sip.digest import (
    Challenge, DigestError, DigestResponse, NonceCounts, NonceMint, calcHA1,
    calcResponse, challenges, formatChallenge, formatCredentials,
    parseChallenge, parseCredentials, responseMatches,
)

#: RFC 7616 section 3.9.1.
RFC7616 = DigestResponse(
    "Mufasa", "http-auth@example.org", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "/dir/index.html",
    "", "MD5", "auth", 1, "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
)
#: RFC 2617 section 3.5.
RFC2617 = DigestResponse(
    "Mufasa", "testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "/dir/index.html",
    "6629fae49393a05397450978507c4ef1", "MD5", "auth", 1, "0a4f113b", "5ccc069c403ebaf9f0171e9517f40e41",
)


class VectorTests(SynchronousTestCase):
    """
    The published test vectors.
    """

    def test_rfc7616MD5(self) -> None:
        """
        RFC 7616 3.9.1 with MD5: response 8ca523f5....
        """
        ha1 = calcHA1("MD5", "Mufasa", "http-auth@example.org", b"Circle of Life")
        self.assertEqual(calcResponse(ha1, "GET", RFC7616), "8ca523f5e9506fed4657c9700eebdbec")

    def test_rfc7616SHA256(self) -> None:
        """
        RFC 7616 3.9.1 with SHA-256: response 753927fa....
        """
        sha = attrs.evolve(RFC7616, algorithm="SHA-256")
        ha1 = calcHA1("SHA-256", "Mufasa", "http-auth@example.org", b"Circle of Life")
        self.assertEqual(calcResponse(ha1, "GET", sha), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")

    def test_rfc2617(self) -> None:
        """
        RFC 2617 3.5: response 6629fae4..., and responseMatches agrees, for
        that password only.
        """
        ha1 = calcHA1("MD5", "Mufasa", "testrealm@host.com", b"Circle Of Life")
        self.assertEqual(calcResponse(ha1, "GET", RFC2617), RFC2617.response)
        self.assertTrue(responseMatches(ha1, "GET", RFC2617))
        self.assertFalse(responseMatches(calcHA1("MD5", "Mufasa", "testrealm@host.com", b"circle of life"), "GET", RFC2617))
        self.assertFalse(responseMatches(ha1, "POST", RFC2617))

    def test_rfc2069(self) -> None:
        """
        Without qop the response is H(HA1:nonce:HA2).
        """
        import hashlib

        plain = attrs.evolve(RFC2617, qop=None, nc=0, cnonce=None)
        ha1 = calcHA1("MD5", "Mufasa", "testrealm@host.com", b"Circle Of Life")
        ha2 = hashlib.md5(b"GET:/dir/index.html").hexdigest()
        self.assertEqual(calcResponse(ha1, "GET", plain), hashlib.md5("{}:{}:{}".format(ha1, plain.nonce, ha2).encode()).hexdigest())

    def test_unsupported(self) -> None:
        """
        Another algorithm or qop is a L{DigestError}; responseMatches says no.
        """
        self.assertRaises(DigestError, calcHA1, "SHA-512-256", "a", "b", b"c")
        self.assertRaises(DigestError, calcResponse, "00", "GET", attrs.evolve(RFC2617, qop="auth-int"))
        self.assertFalse(responseMatches("00", "GET", attrs.evolve(RFC2617, algorithm="AKAv1-MD5")))


class CodecTests(SynchronousTestCase):
    """
    The challenge and credentials header values.
    """

    def test_parseCredentials(self) -> None:
        """
        RFC 7616's Authorization value reads back field by field; nc is a
        number; names are case-insensitive; spaces around '=' are allowed.
        """
        value = (
            'Digest username="Mufasa",\trealm="http-auth@example.org", uri="/dir/index.html", '
            'ALGORITHM=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
            'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop = auth, '
            'response="8ca523f5e9506fed4657c9700eebdbec", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
        )
        self.assertEqual(parseCredentials(value), attrs.evolve(RFC7616, response="8ca523f5e9506fed4657c9700eebdbec"))

    def test_credentialsRoundTrip(self) -> None:
        """
        formatCredentials writes what parseCredentials reads.
        """
        self.assertEqual(parseCredentials(formatCredentials(RFC2617)), RFC2617)

    def test_escapes(self) -> None:
        """
        A quoted-pair in a quoted value is unescaped; a comma inside quotes
        is not a separator.
        """
        value = r'Digest username="a\"b, c", realm="r", nonce="n", uri="sip:x", response="ab"'
        self.assertEqual(parseCredentials(value).username, 'a"b, c')

    def test_badCredentials(self) -> None:
        """
        Not Digest, a missing field, a bad nc, qop without cnonce, a
        repeated name, a non-hex response, junk and an over-long value are
        each a L{DigestError}.
        """
        good = 'username="a", realm="r", nonce="n", uri="sip:x", response="ab"'
        for value in (
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
            'Digest username="a", realm="r", nonce="n", uri="sip:x"',
            "Digest " + good + ", qop=auth, nc=1, cnonce=\"c\"",
            "Digest " + good + ", qop=auth, nc=0000000g, cnonce=\"c\"",
            "Digest " + good + ", qop=auth, nc=00000001",
            "Digest " + good + ', realm="s"',
            'Digest username="a", realm="r", nonce="n", uri="sip:x", response="zz"',
            "Digest " + good + ",, x=y",
            'Digest username="a',
            "Digest",
            "Digest " + good + ", x=" + "y" * 5000,
        ):
            self.assertRaises(DigestError, parseCredentials, value)

    def test_challengeRoundTrip(self) -> None:
        """
        A challenge is written as RFC 8760 shows and reads back.
        """
        challenge = Challenge("example.com", "abc", "SHA-256", ("auth",), True)
        text = formatChallenge(challenge)
        self.assertEqual(text, 'Digest realm="example.com", nonce="abc", algorithm=SHA-256, qop="auth", stale=true')
        self.assertEqual(parseChallenge(text), challenge)
        self.assertEqual(parseChallenge('Digest realm="r", nonce="n", qop="auth,auth-int"').qop, ("auth", "auth-int"))

    def test_badChallenge(self) -> None:
        """
        A challenge that is not Digest or lacks realm or nonce is refused,
        and a realm that cannot be quoted is not written.
        """
        self.assertRaises(DigestError, parseChallenge, 'Basic realm="r"')
        self.assertRaises(DigestError, parseChallenge, 'Digest realm="r"')
        self.assertRaises(ValueError, formatChallenge, Challenge('a"b', "n"))

    def test_challengesBothAlgorithms(self) -> None:
        """
        challenges() offers SHA-256 then MD5, with one nonce and qop="auth".
        """
        mint = NonceMint(task.Clock(), "example.com", b"k" * 32)
        found = [parseChallenge(v) for v in challenges(mint, "example.com")]
        self.assertEqual([c.algorithm for c in found], ["SHA-256", "MD5"])
        self.assertEqual({c.nonce for c in found}.__len__(), 1)
        self.assertEqual({c.qop for c in found}, {("auth",)})


_fuzz = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_pieces = st.sampled_from(["Digest ", "digest", " ", ",", "=", '"', "\\", "realm", "nonce", "nc", "qop", "auth", "00000001", "uri", "response", "ab", "username", "cnonce", "\t", "algorithm", "MD5"])


class FuzzTests(SynchronousTestCase):
    """
    The parsers return a value or raise L{DigestError}, never anything else.
    """

    @_fuzz
    @given(st.text(max_size=300) | st.lists(_pieces, max_size=40).map("".join))
    def test_parseCredentialsNeverCrashes(self, text: str) -> None:
        """
        parseCredentials on arbitrary text.
        """
        try:
            found = parseCredentials(text)
        except DigestError:
            return
        self.assertIsInstance(found, DigestResponse)

    @_fuzz
    @given(st.text(max_size=300) | st.lists(_pieces, max_size=40).map("".join))
    def test_parseChallengeNeverCrashes(self, text: str) -> None:
        """
        parseChallenge on arbitrary text.
        """
        try:
            found = parseChallenge(text)
        except DigestError:
            return
        self.assertIsInstance(found, Challenge)

    @_fuzz
    @given(st.text(alphabet=st.characters(blacklist_characters='"\\', blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30), st.integers(1, 2 ** 32 - 1))
    def test_credentialsRoundTrip(self, name: str, nc: int) -> None:
        """
        Any quotable user name and any nc survive formatting and parsing.
        """
        value = attrs.evolve(RFC2617, username=name, nc=nc)
        self.assertEqual(parseCredentials(formatCredentials(value)), value)


class NonceTests(SynchronousTestCase):
    """
    Stateless nonces.
    """

    def setUp(self) -> None:
        self.clock = task.Clock()
        self.clock.advance(1000)
        self.mint = NonceMint(self.clock, "example.com", b"s" * 32, lifetime=300)

    def test_issuedAt(self) -> None:
        """
        A nonce names the second it was issued, and two are never the same.
        """
        a, b = self.mint.issue(), self.mint.issue()
        self.assertNotEqual(a, b)
        self.assertEqual((self.mint.issuedAt(a), self.mint.issuedAt(b)), (1000, 1000))

    def test_notOurs(self) -> None:
        """
        A nonce from another secret or realm, a changed one and junk are
        not ours.
        """
        nonce = self.mint.issue()
        self.assertIsNone(NonceMint(self.clock, "example.com", b"t" * 32).issuedAt(nonce))
        self.assertIsNone(NonceMint(self.clock, "example.org", b"s" * 32).issuedAt(nonce))
        flipped = nonce[:5] + ("A" if nonce[5] != "A" else "B") + nonce[6:]
        for bad in (flipped, nonce[:-1], "", "!" * 43, "dcd98b7102dd2f0e8b11d0f600bfb0c093"):
            self.assertIsNone(self.mint.issuedAt(bad), bad)

    def test_freshness(self) -> None:
        """
        Fresh for its lifetime, then stale.
        """
        issued = self.mint.issuedAt(self.mint.issue())
        assert issued is not None
        self.clock.advance(299)
        self.assertTrue(self.mint.isFresh(issued))
        self.clock.advance(1)
        self.assertFalse(self.mint.isFresh(issued))

    def test_randomSecret(self) -> None:
        """
        Without a secret each mint has its own.
        """
        nonce = NonceMint(self.clock, "r").issue()
        self.assertIsNone(NonceMint(self.clock, "r").issuedAt(nonce))


class NonceCountTests(SynchronousTestCase):
    """
    Replay tracking.
    """

    def test_replayRefused(self) -> None:
        """
        Each count is good once; counts may arrive out of order within the
        window; 0 is never good.
        """
        counts = NonceCounts(window=8)
        self.assertEqual([counts.use("n", 1, nc) for nc in (1, 1, 3, 2, 3, 2, 0)], [True, False, True, True, False, False, False])

    def test_window(self) -> None:
        """
        A count more than the window below the highest is refused.
        """
        counts = NonceCounts(window=8)
        self.assertTrue(counts.use("n", 1, 20))
        self.assertTrue(counts.use("n", 1, 13))
        self.assertFalse(counts.use("n", 1, 12))
        self.assertTrue(counts.use("n", 1, 100))
        self.assertFalse(counts.use("n", 1, 20))

    def test_bounded(self) -> None:
        """
        Past maxNonces the least recently used is forgotten, and a nonce
        issued no later than a forgotten one is refused: nothing forgotten
        can be replayed, and memory stays bounded.
        """
        counts = NonceCounts(maxNonces=100)
        for i in range(1000):
            self.assertTrue(counts.use("n{}".format(i), i, 1))
        self.assertEqual((len(counts), counts.evicted), (100, 900))
        self.assertFalse(counts.use("n5", 5, 1))
        self.assertFalse(counts.use("never-used", 899, 1))
        self.assertTrue(counts.use("n999", 999, 2))
        self.assertTrue(counts.use("new", 1000, 1))

    def test_forgetBefore(self) -> None:
        """
        forgetBefore drops the nonces issued before a time.
        """
        counts = NonceCounts()
        for i in range(10):
            counts.use("n{}".format(i), i, 1)
        self.assertEqual(counts.forgetBefore(5), 5)
        self.assertEqual(len(counts), 5)
