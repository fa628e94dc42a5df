"""``python -m schemas DOCUMENT``: print a bundled OpenAPI document, for tools that want a file.

    python -m schemas contract.openapi.json > contract.openapi.json
"""

from __future__ import annotations

import argparse
import json
import sys

from . import DOCUMENTS, bundled


def main(argv: list[str] | None = None) -> None:
    """Write the bundled document to standard output."""
    parser = argparse.ArgumentParser(prog="python -m schemas", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("document", choices=DOCUMENTS, help="which OpenAPI document to bundle")
    args = parser.parse_args(argv)
    json.dump(bundled(args.document), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
