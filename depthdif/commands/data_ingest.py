"""`depthdif data ingest` (real GLORYS / OSTIA / Argo formats into a store)."""

from __future__ import annotations

from depthdif.commands.common import not_ready


def register(data_sub) -> None:
    parser = data_sub.add_parser("ingest", help="ingest GLORYS/OSTIA NetCDF and Argo profiles into a store")
    parser.set_defaults(handler=not_ready("data ingest"))
