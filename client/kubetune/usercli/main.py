"""The user commands of `kubetune` and their exit codes.

Exit codes: 0 ok, 1 the thing failed (an API error, a training that ended Failed), 2 usage (argparse),
3 authentication or permission (not logged in, 401, 403), 4 not found (404).
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata

import httpx
from pydantic import ValidationError

from kubetune.client.errors import ApiError, AuthError, NotFoundError
from kubetune.usercli import account, serving, trainings
from kubetune.usercli.completion import add as add_completion
from kubetune.usercli.session import NotLoggedInError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND = 0, 1, 2, 3, 4


def version() -> str:
    try:
        return metadata.version("kubetune")
    except metadata.PackageNotFoundError:
        return "unknown"


def common_options() -> argparse.ArgumentParser:
    """Options every user command takes, after the command name too (`kubetune ls -o json`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-o", "--output", choices=["table", "json", "yaml"], default=argparse.SUPPRESS,
                        help="output format (default: table)")
    common.add_argument("--api-url", dest="url", default=argparse.SUPPRESS,
                        help="the API URL (default: the logged-in one, or KUBETUNE_URL)")
    return common


def add_commands(parser: argparse.ArgumentParser, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser.add_argument("--version", action="version", version=f"kubetune {version()}")
    parser.set_defaults(output="table", url=None)
    common = common_options()
    account.add(sub, common)
    trainings.add(sub, common)
    serving.add(sub, common)
    add_completion(sub, parser)


def run(args: argparse.Namespace) -> int:
    """Run a parsed command, mapping failures to exit codes with one line on stderr (no tracebacks)."""
    try:
        result: int = args.func(args)
        return result
    except NotLoggedInError as e:
        return _fail(str(e), EXIT_AUTH)
    except AuthError as e:
        return _fail(f"not allowed: {e}", EXIT_AUTH)
    except NotFoundError as e:
        return _fail(f"not found: {e}", EXIT_NOT_FOUND)
    except ApiError as e:
        return _fail(str(e), EXIT_FAILED)
    except trainings.FailedError as e:
        return _fail(str(e), EXIT_FAILED)
    except ValidationError as e:  # input is validated (as ValueError) before sending; this is the answer
        return _fail(f"unexpected response from the API (client and server versions differ?): {e}", EXIT_FAILED)
    except (ValueError, FileNotFoundError) as e:
        return _fail(f"invalid input: {e}", EXIT_USAGE)
    except httpx.TransportError as e:
        return _fail(f"cannot reach the API: {e}", EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, code: int) -> int:
    print(f"kubetune: {message}", file=sys.stderr)
    return code
