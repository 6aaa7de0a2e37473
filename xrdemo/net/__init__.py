"""Networked meetings: pose and voice codecs, jitter buffers, the protocol, server and client."""
