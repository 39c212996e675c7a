"""`python -m dptools.samples.reviews_api`: the API as a process, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

import dptools.samples.reviews_api as package
from dptools.samples.reviews_api.config import ReviewsApiConfig
from dptools.samples.reviews_api.server import ReviewsApi


def config_from_args(args: argparse.Namespace) -> ReviewsApiConfig:
    return ReviewsApiConfig(
        total=args.total,
        api_key=args.api_key,
        client_id=args.client_id,
        client_secret=args.client_secret,
        bearer_token=args.bearer_token,
        basic_user=args.basic_user,
        basic_password=args.basic_password,
        token_ttl_s=args.token_ttl_s,
        rate_limit_per_s=args.rate_limit_per_s,
        auth=not args.no_auth,
    )


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
    parser.add_argument("--total", type=int, default=defaults.total)
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--client-id", default=defaults.client_id)
    parser.add_argument("--client-secret", default=defaults.client_secret)
    parser.add_argument("--bearer-token", default=defaults.bearer_token)
    parser.add_argument("--basic-user", default=defaults.basic_user)
    parser.add_argument("--basic-password", default=defaults.basic_password)
    parser.add_argument("--token-ttl-s", type=float, default=defaults.token_ttl_s)
    parser.add_argument("--rate-limit-per-s", type=float, default=defaults.rate_limit_per_s)
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
