"""`python -m dptools.samples.reviews_api`: the API as a process, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import dptools.samples.reviews_api as package
from dptools.samples.reviews_api.config import ReviewsApiConfig
from dptools.samples.reviews_api.server import ReviewsApi

# Every setting of ReviewsApiConfig is a flag of the same name (`--token-ttl-s`), with its default;
# `auth` is the one switch, turned off by `--no-auth`.
FLAG_TYPES = {"total": int, "token_ttl_s": float, "rate_limit_per_s": float}


def config_from_args(args: argparse.Namespace) -> ReviewsApiConfig:
    values = {f.name: getattr(args, f.name) for f in fields(ReviewsApiConfig) if f.name != "auth"}
    return ReviewsApiConfig(**values, auth=not args.no_auth)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = ReviewsApiConfig()
    parser = argparse.ArgumentParser(
        prog="python -m dptools.samples.reviews_api",
        description=package.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="written with the port once listening")
    for field in fields(ReviewsApiConfig):
        if field.name != "auth":
            flag = "--" + field.name.replace("_", "-")
            parser.add_argument(
                flag, type=FLAG_TYPES.get(field.name, str), default=getattr(defaults, field.name)
            )
    parser.add_argument("--no-auth", action="store_true", help="serve /v1 without any credentials")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    api = ReviewsApi(config_from_args(args), host=args.host, port=args.port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    api.start()
    if args.port_file:
        partial = args.port_file.with_name(args.port_file.name + ".tmp")
        partial.write_text(str(api.port))
        os.replace(partial, args.port_file)
    stopping.wait()
    api.stop()


if __name__ == "__main__":
    main()
