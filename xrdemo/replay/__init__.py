"""Meeting recordings (``.xrrec``): the file format, capture from a live run, and replay."""
