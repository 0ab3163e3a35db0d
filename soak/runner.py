"""Boot the stack, seed it, run the areas, print tried / held / failed, exit non-zero on any failure."""

import argparse
import importlib
import os
import signal
import sys
import time
import traceback

from soak.result import AreaResult, Context

AREAS = [
    "schema",
    "access",
    "races",
    "replays",
    "crash",
    "input",
    "login",
    "headers",
    "ssrf",
]


MAX_KINDS = int(os.environ.get("SOAK_KINDS", "15"))  # kinds of failure shown per area


class Timeout(BaseException):
    """The whole run took longer than --timeout (a BaseException: nothing swallows it)."""


def _on_timeout(signum, frame):
    raise Timeout()


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--short", action="store_true", help="small sizes (the CI run)")
    parser.add_argument("--area", nargs="+", choices=AREAS, default=AREAS)
    parser.add_argument(
        "--database", help="default oms_soak (oms_soak_short with --short)"
    )
    parser.add_argument("--timeout", type=int, help="seconds for the whole run")
    parser.add_argument("--web-workers", type=int, default=3)
    return parser.parse_args(argv)


def table(results: list[AreaResult]) -> str:
    lines = [f"{'area':<10} {'tried':>7} {'held':>7} {'failed':>7}"]
    for r in results:
        lines.append(f"{r.area:<10} {r.tried:>7} {r.held:>7} {r.failed:>7}")
    total = [sum(getattr(r, k) for r in results) for k in ("tried", "held", "failed")]
    lines.append(f"{'total':<10} {total[0]:>7} {total[1]:>7} {total[2]:>7}")
    for r in results:
        if r.kinds:
            top = sorted(r.kinds.values(), key=lambda kv: -kv[0])
            lines.append(f"\n{r.area}: {len(top)} kinds of failure, a sample of each")
            lines.extend(f"  {n:>5} x {sample}" for n, sample in top[:MAX_KINDS])
            if len(top) > MAX_KINDS:
                lines.append(f"  ... and {len(top) - MAX_KINDS} more kinds")
        elif r.samples:
            lines.append(f"\n{r.area}:")
            lines.extend(f"  {sample}" for sample in r.samples)
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse(argv)
    database = args.database or ("oms_soak_short" if args.short else "oms_soak")
    timeout = args.timeout or (420 if args.short else 4 * 3600)
    os.environ.setdefault("CI", "")
    from soak.stack import Stack

    stack = Stack(database, web_workers=args.web_workers, log=log)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    signal.signal(signal.SIGALRM, _on_timeout)
    signal.alarm(timeout)
    results: list[AreaResult] = []
    started = time.monotonic()
    try:
        log(f"==> soak{' (short)' if args.short else ''}: database {database}")
        stack.prepare_database()
        stack.start()
        log(f"    stack on {stack.base_url} (logs in {stack.logdir})")
        from soak.client import Api
        from soak.seed import seed

        world = seed(Api(stack.base_url), stack.receiver.url)
        ctx = Context(stack=stack, world=world, short=args.short, log=log)
        for area in args.area:
            begun = time.monotonic()
            log(f"==> area {area}")
            module = importlib.import_module(f"soak.areas.{area}")
            result = AreaResult(area)
            results.append(result)
            try:
                module.run(ctx, result)
            except Timeout:
                raise
            except Exception as exc:
                result.fail(f"the area crashed: {exc!r}")
                log(traceback.format_exc())
            log(f"    {result.tried} tried, {result.held} held, {result.failed} failed "
                f"in {time.monotonic() - begun:.0f} s")  # fmt: skip
    except Timeout:
        results.append(
            AreaResult(
                "timeout", tried=1, failed=1, samples=[f"the run exceeded {timeout} s"]
            )
        )
    except SystemExit as exc:  # SIGTERM, SIGINT, SIGHUP: clean up, show what ran
        results.append(
            AreaResult(
                "stopped", tried=1, failed=1, samples=[f"stopped (exit {exc.code})"]
            )
        )
    except Exception as exc:
        log(traceback.format_exc())
        results.append(
            AreaResult("stack", tried=1, failed=1, samples=[repr(exc)[:300]])
        )
    finally:
        signal.alarm(0)
        stack.stop()
    failed = sum(r.failed for r in results)
    verdict = "FAILED" if failed else "passed"
    sys.stdout.write(
        f"{table(results)}\n\nsoak: {verdict} in {time.monotonic() - started:.0f} s\n"
    )
    sys.stdout.flush()
    return 1 if failed else 0
