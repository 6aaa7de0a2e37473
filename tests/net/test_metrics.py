"""Issue 16, item 9: an operator can see it. The server's counters as a Prometheus endpoint
(the official client library), read by Prometheus' own text parser."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from xrdemo.net import identity as I
from xrdemo.net import protocol as proto
from xrdemo.net.metrics import start_metrics_server
from xrdemo.net.server import ServerThread

from netutil import bind_udp, raw_join, sealed, udp_socket, wait_until


def scrape(url: str) -> dict:
    """{(metric sample name, labels as a sorted tuple): value} from a metrics endpoint."""
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_joins_refusals_drops_members_rooms_and_bytes():
    with ServerThread(port=0, timeout_s=3.0) as srv:
        httpd, port = start_metrics_server(srv.stats, "127.0.0.1", 0)
        try:
            ada = I.Identity.generate()
            sa, wa = raw_join(srv.port, name="Ada", client_id="aaaa0001", identity=ada)
            sb, wb = raw_join(srv.port, name="Bob", client_id="bbbb0002")
            sc, wc = raw_join(srv.port, name="ADA", client_id="cccc0003")     # refused
            assert wc["code"] == "name_taken"
            ua = udp_socket()
            session = int(wa["session"], 16)
            bind_udp(ua, wa["keys"], session, srv.port)
            ub = udp_socket()
            bind_udp(ub, wb["keys"], int(wb["session"], 16), srv.port)
            t_ms = int(time.monotonic() * 1000) & 0xFFFFFFFF
            for seq in range(300):
                ua.sendto(sealed(wa["keys"], proto.KIND_POSE, session, seq, t_ms, bytes(80)), ("127.0.0.1", srv.port))
            wait_until(lambda: srv.stats()["rate_limited"].get("pose", 0) + srv.stats()["packets_in"].get("pose", 0) == 300)
            ua.sendto(proto.pack_client_datagram(proto.KIND_VOICE, session, 999, t_ms, bytes(60)) + bytes(8),
                      ("127.0.0.1", srv.port))                            # a forged one
            wait_until(lambda: srv.stats()["drops"].get("bad_mac") == 1)
            m = scrape(f"http://127.0.0.1:{port}/metrics")
            stats = srv.stats()
        finally:
            httpd.shutdown()
            for s in (sa, sb, sc, ua, ub):
                s.close()
    assert m[("xrdemo_joins_total", ())] == 2
    assert m[("xrdemo_refusals_total", (("reason", "name_taken"),))] == 1
    assert m[("xrdemo_members", ())] == 2 and m[("xrdemo_rooms", ())] == 1
    assert m[("xrdemo_connections", ())] == 2
    limited = m[("xrdemo_rate_limited_total", (("kind", "pose"),))]
    assert limited == stats["rate_limited"]["pose"] > 0
    assert m[("xrdemo_bytes_in_total", (("kind", "all"),))] >= 300 * 98
    assert m[("xrdemo_bytes_out_total", (("kind", "pose"),))] == stats["bytes_out"]["pose"] > 0
    assert m[("xrdemo_datagram_drops_total", (("reason", "bad_mac"),))] == 1


def test_serve_metrics_option_serves_the_endpoint():
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "xrdemo", "serve", "--host", "127.0.0.1", "--port", "0",
                             "--metrics", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        url = next(x.split()[-1] for x in lines if x.startswith("metrics at "))
        m = scrape(url)
        assert m[("xrdemo_joins_total", ())] == 0 and m[("xrdemo_rooms", ())] == 0
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
