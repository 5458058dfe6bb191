"""The deployment files, checked offline (no Docker engine here): the compose file parses and names only
variables .env.example sets, .env.example lists every setting the README's table names, the systemd units pass
`systemd-analyze verify`, nginx accepts its example, and the Dockerfile runs the README's manual install."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP = "/srv/cutline/app"  # where the README's manual install and the image put the code
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
# What the image does that a server install does not need: apt's lists removed, its volume folders made.
IMAGE_ONLY = {"rm -rf /var/lib/apt/lists/*", "mkdir -p var /srv/cutline/s3 /srv/cutline/metrics"}


def env_example() -> tuple[set[str], set[str]]:
    """(names set on a KEY=value line, names shown commented as #KEY=default)."""
    set_names, commented = set(), set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.match(r"^([A-Z][A-Z0-9_]*)=", line):
            set_names.add(match[1])
        elif match := re.match(r"^#\s?([A-Z][A-Z0-9_]*)=", line):
            commented.add(match[1])
    return set_names, commented


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def interpolated(text: str) -> set[str]:
    """The ${NAME} / $NAME compose substitutes from .env; $$ is a literal $ for the container's shell."""
    names = set()
    for match in re.finditer(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)", text):
        if match[0] != "$$":
            names.add(match[1] or match[2])
    return names


# ---------------------------------------------------------------- .env.example


def test_env_example_lists_every_setting_the_readme_table_names():
    table = readme_section("Configuration")
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", "\n".join(
        row.split("|")[1] for row in table.splitlines() if row.startswith("| `")
    )))
    set_names, commented = env_example()
    assert named, "no settings found in the README's Configuration table"
    assert named - set_names - commented == set()


def test_env_example_has_no_inline_comments_or_quotes_systemd_would_keep():
    for line in (ROOT / ".env.example").read_text().splitlines():
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            value = line.split("=", 1)[1]
            assert " #" not in value and not value.startswith(("'", '"')), line


# ---------------------------------------------------------------- docker-compose.yml


def test_the_compose_file_parses_with_web_worker_housekeeping_postgres_and_an_s3_profile():
    services = compose()["services"]
    assert {"db", "release", "web", "worker", "housekeeping", "s3"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert services["s3"]["profiles"] == ["s3"]
    assert "weed mini" in " ".join(services["s3"]["command"]) and "minio" not in str(services).lower()
    assert services["housekeeping"]["environment"]["Q_CLUSTER_NAME"] == "housekeeping"
    for name in ("web", "worker", "housekeeping", "release"):
        assert services[name]["env_file"] == ".env"


def test_the_services_share_a_metrics_folder_in_memory_that_nothing_empties_under_them():
    config = compose()
    assert config["volumes"]["metrics"]["driver_opts"]["type"] == "tmpfs"
    folder = re.search(r"PROMETHEUS_MULTIPROC_DIR=(\S+)", (ROOT / "Dockerfile").read_text())[1]
    for name in ("web", "worker", "housekeeping"):
        assert f"metrics:{folder}" in config["services"][name]["volumes"], name
    # Compose runs the release step again at every `up`, with the others running: it must not empty the folder.
    assert "reset_metrics" not in str(config["services"]["release"]["command"])


def test_the_compose_file_names_only_variables_env_example_sets():
    set_names, _ = env_example()
    used = interpolated((ROOT / "docker-compose.yml").read_text())
    assert used, "expected the database's account to come from .env"
    assert used - set_names == set()


def test_the_render_worker_outlasts_its_grace_before_docker_kills_it():
    grace = compose()["services"]["worker"]["stop_grace_period"]
    assert int(grace.rstrip("s")) > 3 + 5  # RENDER_STOP_GRACE_S and time to hand the job back


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose is not installed")
def test_docker_compose_accepts_the_file_with_env_example_as_its_env(tmp_path):
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run(
        ["docker-compose", "--profile", "s3", "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- systemd


def test_there_are_units_for_web_worker_and_housekeeping_reading_the_env_file():
    names = {unit.name for unit in UNITS}
    assert {"cutline-web.service", "cutline-worker.service", "cutline-housekeeping.service"} <= names
    for unit in UNITS:
        text = unit.read_text()
        assert f"EnvironmentFile={APP}/.env" in text and f"WorkingDirectory={APP}" in text, unit.name
        assert "User=cutline" in text, unit.name


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_units(tmp_path):
    # The units name the install's folder; here the checkout (with its .venv) stands in for it.
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace(APP, str(ROOT)))
    if not (ROOT / ".venv" / "bin" / "gunicorn").exists():
        pytest.skip("no .venv with gunicorn in the checkout")
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.glob("*.service"))],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


# ---------------------------------------------------------------- nginx


def test_the_nginx_example_buffers_uploads_within_the_limit_and_forwards_the_client():
    from django.conf import settings

    text = (ROOT / "deploy" / "nginx" / "cutline.conf").read_text()
    size = int(re.search(r"client_max_body_size (\d+)m;", text)[1])
    assert size >= (settings.MAX_VISUALS + 1) * settings.MAX_UPLOAD_MB
    for directive in ("proxy_request_buffering on;", "client_body_timeout", "proxy_read_timeout",
                      "X-Forwarded-For $proxy_add_x_forwarded_for", "location /static/", "location = /metrics"):
        assert directive in text


@pytest.mark.skipif(shutil.which("nginx") is None or shutil.which("openssl") is None, reason="nginx or openssl missing")
def test_nginx_accepts_the_example(tmp_path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp_path / "key.pem",
         "-out", tmp_path / "cert.pem", "-days", "1", "-subj", "/CN=test"],
        check=True, capture_output=True,
    )
    site = (ROOT / "deploy" / "nginx" / "cutline.conf").read_text()
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {tmp_path / 'cert.pem'};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {tmp_path / 'key.pem'};", site)
    site = site.replace("/var/lib/nginx/body", str(tmp_path / "body"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "main.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{ access_log off; include {tmp_path / 'site.conf'}; }}\n"
    )
    result = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "main.conf")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- Dockerfile vs the manual install


def normalised(command: str) -> str:
    """A command as the manual install and the image both run it: no sudo, no leading VAR=value, paths relative
    to the app's folder, any python3.x as python3."""
    words = shlex.split(command)
    while words and words[0] == "sudo":
        words = words[3:] if words[1:2] == ["-u"] else words[1:]
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        words = words[1:]
    text = " ".join(words).replace(f"{APP}/", "")
    return re.sub(r"\bpython3\.\d+\b", "python3", text)


def dockerfile_commands() -> tuple[list[str], list[str]]:
    """(RUN commands split on &&, the CMD) with continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    runs, cmd = [], []
    for line in text.splitlines():
        if line.startswith("RUN "):
            runs += [part.strip() for part in line[4:].split("&&")]
        elif line.startswith("CMD "):
            cmd = yaml.safe_load(line[4:])  # the exec form is a JSON list
    return runs, cmd


def manual_install_commands() -> set[str]:
    """The README's Deploy section's shell lines, and the ExecStart lines of the units it installs."""
    lines = set()
    for block in re.findall(r"```sh\n(.*?)```", readme_section("Deploy"), re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                lines.update(part.strip() for part in line.split("&&"))
    for unit in UNITS:
        lines.update(re.findall(r"^ExecStart=(.+)$", unit.read_text(), re.M))
    return {normalised(line) for line in lines}


def test_the_dockerfile_is_debian_with_ffmpeg_from_apt_a_non_root_user_and_gunicorn():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM \S+bookworm", text, re.M)
    assert "apt-get install -y --no-install-recommends ffmpeg" in text
    assert re.search(r"^USER cutline$", text, re.M)
    assert "collectstatic" in text
    assert dockerfile_commands()[1][0].endswith("gunicorn")


def test_every_dockerfile_command_is_one_the_readme_s_manual_install_runs():
    runs, cmd = dockerfile_commands()
    manual = manual_install_commands()
    missing = [run for run in runs if run not in IMAGE_ONLY and normalised(run) not in manual]
    assert missing == []
    assert normalised(shlex.join(cmd)) in manual


def test_the_web_unit_starts_gunicorn_as_the_image_does():
    _, cmd = dockerfile_commands()
    web = (ROOT / "deploy" / "systemd" / "cutline-web.service").read_text()
    assert normalised(re.search(r"^ExecStart=(.+)$", web, re.M)[1]) == normalised(shlex.join(cmd))
    assert compose()["services"]["web"]["command"] == cmd
