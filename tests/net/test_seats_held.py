"""Issue 16, item 7: a seat whose member dropped out stays held for them for SEAT_HOLD_S, even
against a newcomer who asks for it by number (``want_seat``)."""

from xrdemo.net import identity as I
from xrdemo.net.server import ServerThread

from netutil import raw_join, wait_until


def test_want_seat_cannot_take_a_held_seat_but_its_owner_gets_it_back():
    with ServerThread(port=0, timeout_s=2.0) as srv:
        sock_a, wa = raw_join(srv.port, name="a", client_id="aaaa0001")
        bob = I.Identity.generate()
        sock_b, wb = raw_join(srv.port, name="bob", client_id="bbbb0002", identity=bob)
        assert (wa["seat"], wb["seat"]) == (0, 1)
        sock_b.close()                                        # dropped out (no leave)
        wait_until(lambda: srv.stats()["members"] == 1)
        sock_c, wc = raw_join(srv.port, name="carol", client_id="cccc0003", want_seat=1)
        assert wc["type"] == "welcome" and wc["seat"] == 2    # not bob's held seat
        # another key with bob's client id does not count as bob
        sock_m, wm = raw_join(srv.port, name="mallory", client_id="bbbb0002", want_seat=1)
        assert wm["seat"] == 3
        sock_b2, wb2 = raw_join(srv.port, name="bob", client_id="bbbb0002", want_seat=1, identity=bob)
        assert wb2["seat"] == 1                               # bob is back in his seat
        for s in (sock_a, sock_c, sock_m, sock_b2):
            s.close()


def test_held_seats_are_offered_last_not_never():
    with ServerThread(port=0, timeout_s=2.0, capacity=2) as srv:
        sock_a, wa = raw_join(srv.port, name="a", client_id="aaaa0001")
        sock_b, wb = raw_join(srv.port, name="b", client_id="bbbb0002")
        sock_b.close()
        wait_until(lambda: srv.stats()["members"] == 1)
        # only the held seat is free: offered last, but offered (the room is not full)
        sock_c, wc = raw_join(srv.port, name="c", client_id="cccc0003", want_seat=1)
        assert wc["seat"] == 1
        for s in (sock_a, sock_c):
            s.close()
