"""Print the CONFUSABLES dict for xrdemo/net/names.py: the mappings of Unicode's confusables.txt
(UTS #39 data, https://www.unicode.org/Public/security/, Unicode License) whose source character
is one the name tags can draw (names.TAG_CHARACTERS).

    python scripts/confusables_subset.py confusables.txt
"""

import sys

from xrdemo.net.names import TAG_CHARACTERS


def main(path: str) -> None:
    out = {}
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            fields = [x.strip() for x in line.split("#")[0].split(";")]
            if len(fields) < 2 or not fields[0]:
                continue
            src = chr(int(fields[0], 16))
            if src in TAG_CHARACTERS:
                out[src] = "".join(chr(int(h, 16)) for h in fields[1].split())
    print("CONFUSABLES = {")
    for src, proto in out.items():
        print(f"    {src!r}: {proto!r},")
    print("}")


if __name__ == "__main__":
    main(sys.argv[1])
