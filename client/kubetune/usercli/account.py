"""login, projects [ls|create|use], datasets [upload|ls|show]."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

from kubetune.client import Client
from kubetune.client import config as cfg
from kubetune.usercli.output import details, render
from kubetune.usercli.session import client

PROJECT_COLUMNS = ["id", "key", "name", "namespace", "status"]
DATASET_COLUMNS = ["id", "name", "format", "row_count", "size", "status", "project_id"]


def login(args: argparse.Namespace) -> int:
    username = args.username or input("username: ")
    # The password from the environment for scripts; never from a flag (it would sit in shell history).
    password = os.environ.get("KUBETUNE_PASSWORD") or getpass.getpass("password: ")
    token = Client.login(args.url, username, password)
    conf = cfg.load()
    conf.url, conf.token, conf.username = args.url.rstrip("/"), token.access_token, username
    path = cfg.save(conf)
    print(f"logged in to {conf.url} as {username} (token saved in {path})")
    return 0


def projects_ls(args: argparse.Namespace) -> int:
    with client(args) as kt:
        print(render(kt.projects(), args.output, PROJECT_COLUMNS))
    return 0


def projects_create(args: argparse.Namespace) -> int:
    with client(args) as kt:
        project = kt.create_project(args.name, args.description)
    print(details(project, args.output))
    return 0


def projects_use(args: argparse.Namespace) -> int:
    with client(args) as kt:
        result = kt.set_default_project(args.project)
    print(details(result, args.output) if args.output != "table" else f"default project: {args.project}")
    return 0


def datasets_upload(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with client(args) as kt:
        result = kt.upload_dataset(path, args.project)
    print(details(result, args.output))
    return 0


def datasets_ls(args: argparse.Namespace) -> int:
    with client(args) as kt:
        print(render(kt.datasets(args.project), args.output, DATASET_COLUMNS))
    return 0


def datasets_show(args: argparse.Namespace) -> int:
    with client(args) as kt:
        print(details(kt.dataset(args.dataset, args.project), args.output))
    return 0


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("login", parents=[common], help="log in with a username and password; saves the token")
    p.add_argument("--url", required=True, help="the API URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--username", "-u", help="prompted for when omitted; the password always is (or KUBETUNE_PASSWORD)")
    p.set_defaults(func=login)

    projects = sub.add_parser("projects", parents=[common], help="list, create or choose projects")
    psub = projects.add_subparsers(dest="action")
    projects.set_defaults(func=projects_ls)
    psub.add_parser("ls", parents=[common], help="list projects").set_defaults(func=projects_ls)
    create = psub.add_parser("create", parents=[common], help="create a project")
    create.add_argument("name")
    create.add_argument("--description")
    create.set_defaults(func=projects_create)
    use = psub.add_parser("use", parents=[common], help="make a project your default (key, id or namespace)")
    use.add_argument("project")
    use.set_defaults(func=projects_use)

    datasets = sub.add_parser("datasets", parents=[common], help="upload and list datasets")
    dsub = datasets.add_subparsers(dest="action", required=True)
    up = dsub.add_parser("upload", parents=[common], help="upload a JSONL/CSV/Parquet file")
    up.add_argument("file", type=Path)
    up.add_argument("--project", help="project key or id (default: your default project)")
    up.set_defaults(func=datasets_upload)
    ls = dsub.add_parser("ls", parents=[common], help="list datasets")
    ls.add_argument("--project", type=int, help="numeric project id")
    ls.set_defaults(func=datasets_ls)
    show = dsub.add_parser("show", parents=[common], help="one dataset by id or name")
    show.add_argument("dataset")
    show.add_argument("--project", type=int, help="numeric project id")
    show.set_defaults(func=datasets_show)
