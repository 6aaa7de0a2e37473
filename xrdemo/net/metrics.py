"""The room server's counters as a Prometheus metrics endpoint (``xrdemo serve --metrics``).

Uses the official client library (``prometheus_client``): a collector that, on each scrape,
takes one snapshot of ``Server.stats()`` on the server's event loop (so counters are never read
while the loop changes them) and reports it in the Prometheus text format over HTTP.

Metrics (all prefixed ``xrdemo_``): ``joins_total``, ``refusals_total{reason}`` (room_full,
name_taken, bad_name, name_rate, name_limit, busy, too_many_connections, too_many_rooms,
out_of_file_handles), ``control_errors_total{reason}`` (bad_signature, version, hello_timeout,
bad_message, ...), ``rate_limited_total{kind}`` (pose, voice, keepalive, probe, control,
profile), ``datagram_drops_total{reason}``, ``leaves_total{reason}``, ``members``, ``rooms``,
``connections``, ``bytes_in_total{kind}`` / ``bytes_out_total{kind}``, ``packets_in_total{kind}``
/ ``packets_out_total{kind}`` (kind ``all`` in: every datagram received, valid or not).
"""

from __future__ import annotations

import asyncio


class ServerCollector:
    """A prometheus_client collector over a running ``Server``. snapshot: a callable returning
    ``Server.stats()`` taken safely (see ``snapshot_on_loop``)."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        s = self.snapshot()
        yield _counter(CounterMetricFamily, "xrdemo_joins", "people who joined a room",
                       {"": s.get("control", {}).get("joins", 0)})
        for name, group, label, text in (
                ("xrdemo_refusals", "refused", "reason", "joins and connections refused, by reason"),
                ("xrdemo_control_errors", "control_errors", "reason", "control connections ended for bad input"),
                ("xrdemo_rate_limited", "rate_limited", "kind", "datagrams and messages over a member's fair share"),
                ("xrdemo_datagram_drops", "drops", "reason", "invalid datagrams dropped"),
                ("xrdemo_leaves", "leaves", "reason", "members who left, by reason"),
                ("xrdemo_bytes_in", "bytes_in", "kind", "datagram bytes received"),
                ("xrdemo_bytes_out", "bytes_out", "kind", "datagram bytes sent"),
                ("xrdemo_packets_in", "packets_in", "kind", "datagrams received"),
                ("xrdemo_packets_out", "packets_out", "kind", "datagrams sent")):
            fam = CounterMetricFamily(name, text, labels=[label])
            for key, value in sorted(s.get(group, {}).items()):
                fam.add_metric([str(key)], float(value))
            yield fam
        for name, key, text in (("xrdemo_members", "members", "people in rooms now"),
                                ("xrdemo_rooms", "rooms", "rooms open now"),
                                ("xrdemo_connections", "connections", "control connections open now")):
            yield GaugeMetricFamily(name, text, value=float(s.get(key, 0)))


def _counter(cls, name, text, values):
    fam = cls(name, text)
    fam.add_metric([], float(values[""]))
    return fam


def snapshot_on_loop(server, loop: asyncio.AbstractEventLoop, timeout_s: float = 2.0):
    """A callable that returns ``server.stats()`` computed on its event loop (from any thread)."""
    def snap():
        async def take():
            return server.stats()
        return asyncio.run_coroutine_threadsafe(take(), loop).result(timeout_s)
    return snap


def start_metrics_server(snapshot, host: str, port: int):
    """Serve the metrics at http://host:port/metrics on a daemon thread. Returns (httpd, port)."""
    from prometheus_client import start_http_server
    from prometheus_client.registry import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(snapshot))
    httpd, _thread = start_http_server(port, addr=host, registry=registry)
    return httpd, httpd.server_address[1]
