"""xrdemo: a presence demo for VR meetings (heads, tracked hands, spatial voices around a table)."""

__version__ = "0.1.0"
