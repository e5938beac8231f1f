"""Command line: ``python -m nvlmodel claims --json`` and ``python -m nvlmodel spec --gpu b200``."""

from __future__ import annotations

import argparse
import sys

from . import claims as ledger
from .hardware import GPU_ALIASES, GPU_NAMES, PRESETS, get_gpu


def _claims(args: argparse.Namespace) -> int:
    rows = ledger.all_claims(section=args.section, status=args.status)
    if args.format == "json":
        print(ledger.to_json(rows))
    elif args.format == "markdown":
        print(ledger.to_markdown(rows))
    else:
        for r in ledger.to_records(rows):
            print(f"{r['id']:<34} {r['status']:<13} printed {r['printed']:<16} reproduced {r['reproduced']}"
                  f" {r['unit']}  datasheet {r['datasheet']}")
        counts = ledger.status_counts(rows)
        print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return 0


def _spec(args: argparse.Namespace) -> int:
    gpu = get_gpu(args.gpu, args.preset)
    print(f"{gpu.name} ({args.preset} preset)")
    for r in gpu.rows():
        value = r["value"]
        text = "-" if value is None else (f"{value:,.6g}" if isinstance(value, float) else str(value))
        print(f"  {r['quantity']:<55} {text:>10} {r['unit']:<8} {r['source']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nvlmodel", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("claims", help="the ledger of the seed document's numbers",
                       description="Print every numeric claim of the seed document with the value the "
                       "package reproduces by the document's own method, its status and the datasheet value.")
    fmt = c.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json", help="JSON list of claims")
    fmt.add_argument("--markdown", dest="format", action="store_const", const="markdown",
                     help="markdown table")
    c.add_argument("--section", choices=list(ledger.SECTIONS), help="only this section of the document")
    c.add_argument("--status", choices=list(ledger.STATUSES), help="only claims with this status")
    c.set_defaults(func=_claims, format="text")

    s = sub.add_parser("spec", help="one GPU's specs under a preset, with sources",
                       description="Print every field of a GPU spec in display units with its source.")
    s.add_argument("--gpu", required=True, choices=list(GPU_NAMES) + list(GPU_ALIASES),
                   help="GPU registry name or alias")
    s.add_argument("--preset", default="datasheet", choices=list(PRESETS),
                   help="seed: the document's numbers as written; datasheet: public facts (default)")
    s.set_defaults(func=_spec)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
