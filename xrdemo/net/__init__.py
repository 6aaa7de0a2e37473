"""Networked meetings: the room server, the transport, and the pose and voice codecs."""
