"""Networked meetings: pose codec, voice (Opus), protocol, server and client transport."""
