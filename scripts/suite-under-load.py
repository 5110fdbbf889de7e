#!/usr/bin/env python3
# Copyright 2026 picam_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Run the test suite again and again under CPU load, to find the tests that fail now and then.

A test that fails once in twenty runs sinks a CI run sooner or later; on an idle machine it may
never show. This keeps every core busy with spinning processes (``--hogs``, default one per
core) and optionally runs two suites at once on different ROS domains (``--parallel 2``), then
prints each run's summary and every test that failed, with how often::

    scripts/suite-under-load.py --runs 20                       # the whole suite, 20 times
    scripts/suite-under-load.py --runs 50 -- test/test_streaming.py -k killed

Everything after ``--`` goes to pytest. The hogs and the suites are stopped on exit, on
Ctrl-C too. Exit status: 0 when every run passed, 1 when any test failed.
"""

import argparse
import collections
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parent.parent
HOG = 'while True:\n    pass\n'
FAILED_LINE = re.compile(r'^(FAILED|ERROR) (\S+)')
#: Where the whole output of a failing run is kept (the others are thrown away).
KEPT_LOGS = Path(tempfile.gettempdir()) / f'suite-under-load-{os.getpid()}'


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Split our options from pytest's (after ``--``)."""
    ours, pytest_args = (argv[:argv.index('--')], argv[argv.index('--') + 1:]) \
        if '--' in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=20, help='rounds of the suite (default 20)')
    parser.add_argument('--hogs', type=int, default=os.cpu_count() or 1,
                        help='busy-looping processes beside the suite (default: one per core)')
    parser.add_argument('--parallel', type=int, default=1, choices=(1, 2, 3, 4),
                        help='suites run at once in each round, each on its own ROS domain')
    parser.add_argument('--python', default=str(ROOT / '.venv' / 'bin' / 'python'),
                        help='the interpreter that runs pytest (default: .venv/bin/python)')
    parser.add_argument('--keep-going', action='store_true',
                        help='run every round even after a failure (default: stop at the first)')
    args = parser.parse_args(ours)
    if args.runs < 1 or args.hogs < 0:
        parser.error('--runs must be at least 1 and --hogs at least 0')
    if not Path(args.python).exists():
        parser.error(f'--python {args.python} does not exist (run scripts/setup.sh --test)')
    return args, pytest_args


def start_suite(python: str, pytest_args: list[str], domain: int, log: Path) -> subprocess.Popen:
    """Start one pytest run on its own ROS domain, its output into ``log``."""
    env = dict(os.environ, PICAM_ROS_TEST_DOMAIN=str(domain))
    with open(log, 'wb') as out:
        return subprocess.Popen(
            [python, '-m', 'pytest', '-q', '-rfE', '-p', 'no:cacheprovider', *pytest_args],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def summary_of(text: str) -> str:
    """Return the closing line pytest printed, or say that there was none."""
    lines = [line for line in text.splitlines() if re.search(r'\d+ (passed|failed|error)', line)]
    return lines[-1].strip('= ') if lines else 'no pytest summary (crashed or interrupted?)'


def stop(process: subprocess.Popen) -> None:
    """Stop a process group: SIGINT, then SIGKILL after a bounded wait."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def main(argv: list[str]) -> int:
    """Run the rounds with the hogs beside them; print what failed and how often."""
    args, pytest_args = parse_args(argv)
    hogs = [subprocess.Popen([sys.executable, '-c', HOG], start_new_session=True)
            for _ in range(args.hogs)]
    failures: collections.Counter[str] = collections.Counter()
    bad_rounds = 0
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix='suite-under-load-') as tmp:
            for round_no in range(1, args.runs + 1):
                suites = []
                for k in range(args.parallel):
                    log = Path(tmp) / f'run{round_no}-{k}.log'
                    domain = 100 + (os.getpid() + 7 * round_no + 31 * k) % 100
                    suites.append((log, start_suite(args.python, pytest_args, domain, log)))
                round_failed = False
                try:
                    codes = [suite.wait() for _, suite in suites]
                finally:
                    for _, suite in suites:
                        stop(suite)
                for (log, _), code in zip(suites, codes):
                    text = log.read_text(errors='replace')
                    failed = [m[2] for m in map(FAILED_LINE.match, text.splitlines()) if m]
                    failures.update(failed)
                    status = 'ok' if code == 0 else f'exit {code}'
                    print(f'round {round_no}/{args.runs} [{status}] {summary_of(text)}',
                          flush=True)
                    for name in failed:
                        print(f'    {name}', flush=True)
                    if code != 0:
                        kept = KEPT_LOGS / log.name
                        KEPT_LOGS.mkdir(parents=True, exist_ok=True)
                        kept.write_text(text)
                        print(f'    whole output: {kept}', flush=True)
                    round_failed |= code != 0
                bad_rounds += round_failed
                if round_failed and not args.keep_going:
                    break
    except KeyboardInterrupt:
        print('suite-under-load: interrupted', file=sys.stderr)
        return 130
    finally:
        for hog in hogs:
            stop(hog)
    minutes = (time.monotonic() - started) / 60
    print(f'\n{bad_rounds} failing round(s) in {minutes:.1f} min with {args.hogs} CPU hog(s), '
          f'{args.parallel} suite(s) at a time')
    for name, count in failures.most_common():
        print(f'  {count}x {name}')
    return 1 if bad_rounds else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
