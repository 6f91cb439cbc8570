"""``python -m eventsourcing.sample_shopping_cart demo | serve [--store URL] [--port N]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from eventsourcing import EventSourcingError
from eventsourcing.sample_shopping_cart.storage import default_data_dir, default_store_url, describe

_DEFAULT = f"shop.db in {default_data_dir()}".replace("%", "%%")  # argparse formats help with %


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eventsourcing.sample_shopping_cart", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a scripted scenario and print events, views and a time-travel replay")
    demo.add_argument("--store", help=f"event store URL (default: {_DEFAULT}, which serve opens too)")
    demo.add_argument("--views", help="view database URL (default: derived from --store)")
    serve = sub.add_parser("serve", help="serve the HTTP API and the web page on 127.0.0.1")
    serve.add_argument("--store", help=f"event store URL (default: {_DEFAULT}, the demo's)")
    serve.add_argument("--views", help="view database URL (default: derived from --store)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s; 0 picks a free one)")
    serve.add_argument(
        "--max-body",
        type=int,
        default=None,  # the API's own default; importing it would need the app extra, which `demo` does not
        metavar="BYTES",
        help="refuse request bodies larger than this with 413 (default: 1048576, 1 MiB)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from eventsourcing.sample_shopping_cart.demo import run_demo

            # The demo's output is the story: the Kafka client's log lines (a broker without the
            # idempotent producer, say) would interleave with it. A failure still ends it with an error.
            logging.getLogger("aiokafka").addHandler(logging.NullHandler())

            store = args.store or default_store_url()
            asyncio.run(run_demo(store, views_url=args.views))
            return 0
        return _serve(args.store or default_store_url(), args.views, args.port, args.max_body)
    except EventSourcingError as err:
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _serve(store: str, views: str | None, port: int, max_body: int | None) -> int:
    try:
        import uvicorn

        from eventsourcing.sample_shopping_cart.api import create_app  # needs fastapi
        from eventsourcing.sample_shopping_cart.api.limits import DEFAULT_MAX_BODY
    except ImportError as err:
        print(f"error: serving needs the app extra ({err}): pip install 'async-eventsourcing[app]'", file=sys.stderr)
        return 1

    print(f"shop: {describe(store, views)}", flush=True)
    print(f"shop: open http://127.0.0.1:{port}/ (API docs at /docs)", flush=True)
    app = create_app(store, views_url=views, max_body=DEFAULT_MAX_BODY if max_body is None else max_body)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
