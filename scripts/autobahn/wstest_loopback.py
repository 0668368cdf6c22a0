# Python 2 (Autobahn|Testsuite runs on Python 2.7 only).
#
# Runs `wstest` like its own entry point does, except that the fuzzing server's listening
# socket is bound to 127.0.0.1 instead of every interface: autobahntestsuite passes no
# interface to `listenWS`, so a plain `wstest -m fuzzingserver` would expose the fuzzer on
# the network for the length of a CI run. Used by scripts/autobahn.sh; same arguments as
# `wstest`. Written against autobahntestsuite 25.10.1 (pinned in scripts/autobahn.sh).
import sys

# wstest imports this first so that it installs the epoll reactor before anything imports
# twisted.internet.reactor; keep that order.
from autobahntestsuite import choosereactor  # noqa: F401
from autobahntestsuite import fuzzing

_listen_ws = fuzzing.listenWS


def _listen_ws_loopback(factory, contextFactory=None, backlog=50, interface=''):
    return _listen_ws(factory, contextFactory, backlog, interface or '127.0.0.1')


fuzzing.listenWS = _listen_ws_loopback

from autobahntestsuite.wstest import run  # noqa: E402

if __name__ == '__main__':
    sys.argv[0] = 'wstest'
    sys.exit(run())
