"""`tinyvision serve`: the draw-a-number page and the JSON API for one model."""

from __future__ import annotations

import argparse

from tinyvision.cli.common import path_arg

NAME = "serve"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help="a draw-a-number web page and a JSON prediction API")
    p.add_argument("checkpoint", type=path_arg, metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-bytes", type=int, default=10_000_000, help="largest accepted upload in bytes (10 MB)")
    p.add_argument("--workers", type=int, help="predictions computed at once (default: the number of cores, at most 8)")
    p.add_argument("--processes", action=argparse.BooleanOptionalAction, default=None,
                   help="compute predictions in forked worker processes, which use every core "
                        "(default where fork exists); --no-processes: threads in one process")
    p.add_argument("--predict-seconds", type=float, default=30.0,
                   help="a prediction's deadline; past it the request is answered 503 and its worker process "
                        "replaced (a thread keeps its place until it ends) (default: 30)")
    p.add_argument("--queue", type=int, help="requests allowed to wait for a worker before 503 (default: 16)")


def run(args: argparse.Namespace) -> int:
    import tinyvision
    from tinyvision.serve import ServeOptions, check_port, run_server

    # The flags first: a mistake in them is reported before the model is loaded.
    options = ServeOptions.with_defaults(max_bytes=args.max_bytes, workers=args.workers, queue=args.queue,
                                         processes=args.processes, predict_seconds=args.predict_seconds)
    check_port(args.port)
    model = tinyvision.load(args.checkpoint)
    run_server(model, args.host, args.port, options)
    return 0
