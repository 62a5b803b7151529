"""Static checks of the container stack: compose file, Dockerfiles, Prometheus config and Grafana dashboards.

These need no Docker engine; scripts/stack_test.sh runs the stack for real.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
APIS = ("api-flask", "api-fastapi", "api-django")
SERVICES = (*APIS, "inference")
# Each API's buffering front (services/front), by the API it fronts.
FRONTS = {api: api.replace("api-", "front-") for api in APIS}


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (REPO / "docker-compose.yml").read_text()


def test_every_published_port_is_loopback_only(compose):
    published = [(name, port) for name, svc in compose["services"].items() for port in svc.get("ports", [])]
    assert published, "no ports published at all"
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_the_fronts_publish_the_api_ports_and_the_apis_publish_none(compose):
    """Clients reach an API only through its front; Prometheus scrapes the API inside the network."""
    for api, front in FRONTS.items():
        api_service, front_service = compose["services"][api], compose["services"][front]
        assert "ports" not in api_service, f"{api} is reachable past its front"
        port = api_service["environment"]["PORT"]
        assert front_service["ports"] == [f"127.0.0.1:${{{api.split('-')[1].upper()}_PORT:-{port}}}:{port}"]
        assert front_service["environment"]["FRONT_PORT"] == port
        assert front_service["environment"]["API_ADDR"] == f"{api}:{port}"
        assert front_service["depends_on"] == {api: {"condition": "service_healthy"}}


def test_the_three_fronts_are_one_image_with_equal_limits_and_the_apis_body_limit(compose):
    fronts = [compose["services"][front] for front in FRONTS.values()]
    per_api = ("FRONT_PORT", "API_ADDR")
    shared = [{key: value for key, value in front["environment"].items() if key not in per_api} for front in fronts]
    assert shared[0] == shared[1] == shared[2]
    for key in ("image", "build", "deploy", "tmpfs", "healthcheck"):
        assert fronts[0][key] == fronts[1][key] == fronts[2][key], key
    assert shared[0]["MAX_BODY_BYTES"] == compose["services"]["api-flask"]["environment"]["MAX_BODY_BYTES"]
    # Inside the compose network the API's name is looked up again (a recreated API has a new address).
    assert shared[0]["FRONT_RESOLVER"] == "127.0.0.11"
    dockerfile = (REPO / "services/front/Dockerfile").read_text()
    assert re.search(r"^USER (?!0|root)\S+$", dockerfile, re.M), "the front must not run as root"
    assert re.search(r"^ARG DEBIAN_IMAGE=debian:bookworm-slim$", dockerfile, re.M)


def test_the_three_apis_get_equal_limits_and_settings(compose):
    apis = [compose["services"][name] for name in APIS]
    limits = [api["deploy"]["resources"]["limits"] for api in apis]
    assert limits[0] == limits[1] == limits[2]
    assert {"cpus", "memory"} <= set(limits[0])
    shared_keys = ("INFERENCE_MODE", "MODEL_SOURCE", "MODEL_PROFILE", "WEB_WORKERS", "WEB_THREADS")
    for key in shared_keys:
        values = {api["environment"][key] for api in apis}
        assert len(values) == 1, f"{key} differs between APIs: {values}"


def test_one_variable_flips_the_inference_mode(compose, compose_text):
    # Exactly one definition, in the shared anchor, read from the environment.
    assert len(re.findall(r"^\s*INFERENCE_MODE:", compose_text, re.M)) == 1
    for name in APIS:
        assert compose["services"][name]["environment"]["INFERENCE_MODE"] == "${INFERENCE_MODE:-inprocess}"
    # The inference service must not restart when only the APIs' mode changes.
    assert "INFERENCE_MODE" not in compose["services"]["inference"]["environment"]


def test_services_bind_all_interfaces_inside_their_network(compose):
    for name in SERVICES:
        assert compose["services"][name]["environment"]["HOST"] == "0.0.0.0"


def test_secrets_are_required_and_have_no_default(compose):
    django_env = compose["services"]["api-django"]["environment"]
    assert re.fullmatch(r"\$\{DJANGO_SECRET_KEY:\?.+\}", django_env["DJANGO_SECRET_KEY"])
    grafana_env = compose["services"]["grafana"]["environment"]
    assert re.fullmatch(r"\$\{GF_ADMIN_PASSWORD:\?.+\}", grafana_env["GF_SECURITY_ADMIN_PASSWORD"])
    env_example = (REPO / ".env.example").read_text()
    assert re.search(r"^DJANGO_SECRET_KEY=$", env_example, re.M)
    assert re.search(r"^GF_ADMIN_PASSWORD=$", env_example, re.M)



def test_django_allowed_hosts_is_the_variable_django_reads(compose):
    # Django reads DJANGO_ALLOWED_HOSTS (blog_django/settings.py); a bare ALLOWED_HOSTS would be silently ignored.
    settings = (REPO / "services/api-django/blog_django/settings.py").read_text()
    assert 'os.environ.get("DJANGO_ALLOWED_HOSTS"' in settings
    hosts = compose["services"]["api-django"]["environment"]["DJANGO_ALLOWED_HOSTS"]
    # Prometheus scrapes the service by its compose name, so that name must be allowed.
    assert "api-django" in hosts
    for path in ("docker-compose.yml", "bench/services.py", ".env.example"):
        assert not re.search(r"(?<!DJANGO_)ALLOWED_HOSTS", (REPO / path).read_text()), path

def test_grafana_is_optional_and_provisioned(compose):
    grafana = compose["services"]["grafana"]
    assert grafana["profiles"] == ["grafana"]
    assert any("provisioning" in volume for volume in grafana["volumes"])


def test_health_gates_every_dependency(compose):
    for name, service in compose["services"].items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
    for name in APIS:
        assert "inference" in compose["services"][name]["depends_on"]


def test_models_share_one_hugging_face_cache_volume(compose):
    assert "hf-cache" in compose["volumes"]
    for name in SERVICES:
        service = compose["services"][name]
        assert "hf-cache:/hf-cache" in service["volumes"]
        assert service["environment"]["HF_HOME"] == "/hf-cache"


def test_prometheus_accepts_remote_write(compose):
    assert "--web.enable-remote-write-receiver" in compose["services"]["prometheus"]["command"]


@pytest.mark.parametrize("service", SERVICES)
def test_service_dockerfile_is_non_root_with_healthcheck_on_the_shared_base(service):
    text = (REPO / "services" / service / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=\S*ml-base\S*$", text, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0", "0:0")
    assert re.search(r"^HEALTHCHECK ", text, re.M)


def test_base_image_and_torch_source_are_build_arguments():
    text = (REPO / "docker" / "base.Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in text
    # PyPI's torch is a multi-GB CUDA build: torch is only ever installed from the chosen source, pinned.
    assert re.search(r'"torch==\$\{TORCH_VERSION\}"', text)
    ml_pins = (REPO / "requirements" / "ml.txt").read_text()
    version = re.search(r"^ARG TORCH_VERSION=(\S+)$", text, re.M).group(1)
    assert f"torch=={version}" in ml_pins


def test_build_context_leaves_out_the_repository_history_and_local_environments():
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "**/__pycache__"):
        assert entry in ignored


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed (requirements/dev.txt)")
def test_dockerfiles_pass_hadolint():
    files = [REPO / "docker" / "base.Dockerfile", *sorted((REPO / "services").glob("*/Dockerfile"))]
    files += sorted((REPO / "scripts" / "docker").glob("*.Dockerfile"))
    result = subprocess.run(["hadolint", *map(str, files)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def prometheus_config() -> dict:
    return yaml.safe_load((REPO / "prometheus.yml").read_text())


def test_prometheus_scrapes_every_service_with_a_framework_label(prometheus_config, compose):
    labelled = {}
    for job in prometheus_config["scrape_configs"]:
        for group in job["static_configs"]:
            for target in group["targets"]:
                labelled[target] = group["labels"]
    expected = {"api-flask:8001": "flask", "api-fastapi:8002": "fastapi", "api-django:8003": "django"}
    for target, framework in expected.items():
        assert labelled[target]["framework"] == framework
    assert "inference:9101" in labelled
    assert any(target.endswith(":9090") for target in labelled)
    for target in labelled:
        host = target.split(":")[0]
        assert host == "localhost" or host in compose["services"], f"{target} is not a compose service"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian prometheus)")
def test_prometheus_config_passes_promtool():
    result = subprocess.run(
        ["promtool", "check", "config", str(REPO / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def generator():
    return load_module("generate_dashboards", REPO / "grafana" / "generate_dashboards.py")


def test_committed_dashboards_match_their_generator(generator):
    built = generator.dashboards()
    committed = {path.name for path in (REPO / "grafana" / "dashboards").glob("*.json")}
    assert committed == set(built)
    for name, dashboard in built.items():
        on_disk = (REPO / "grafana" / "dashboards" / name).read_text(encoding="utf-8")
        assert on_disk == generator.serialise(dashboard), f"{name} is stale: run grafana/generate_dashboards.py"


def test_every_panel_queries_the_provisioned_datasource(generator):
    datasource = yaml.safe_load((REPO / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for dashboard in generator.dashboards().values():
        for panel in dashboard["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == uid
            assert panel["targets"], f"{panel['title']} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid


def test_dashboards_cover_what_the_issue_asks_for(generator):
    exprs = " ".join(
        target["expr"]
        for dashboard in generator.dashboards().values()
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    )
    for needle in (
        "http_requests_total",
        "histogram_quantile(0.5,",
        "histogram_quantile(0.95,",
        "histogram_quantile(0.99,",
        'status=~"5.."',
        "service_memory_bytes",
        "service_cpu_seconds_total",
        "group_left(inference_mode) blog_service_info",
        "inference_queue_depth",
        "inference_batch_size",
        "inference_queue_seconds",
        "inference_compute_seconds",
        "k6_vus",
        "k6_dropped_iterations_total",
    ):
        assert needle in exprs, needle


def test_panels_do_not_overlap(generator):
    for dashboard in generator.dashboards().values():
        cells = set()
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    assert (x, y) not in cells, f"{dashboard['uid']}: {panel['title']} overlaps"
                    cells.add((x, y))
            assert grid["x"] + grid["w"] <= 24


@pytest.fixture(scope="module")
def checks():
    return load_module("stack_checks", REPO / "scripts" / "docker" / "stack_checks.py")


def test_checker_reads_every_dashboard_query_and_fills_grafana_variables(checks, generator):
    queries = checks.panel_queries()
    expected = sum(
        len(panel.get("targets", [])) for dashboard in generator.dashboards().values() for panel in dashboard["panels"]
    )
    assert len(queries) == expected
    assert all("$__" not in checks.substitute(expr) for _, _, expr in queries)


def test_checker_counts_only_finite_samples_as_data(checks):
    assert not checks.has_finite_sample([])
    assert not checks.has_finite_sample([{"values": [[0, "NaN"], [15, "NaN"]]}])
    assert checks.has_finite_sample([{"values": [[0, "NaN"], [15, "0"]]}])


def test_dashboard_json_is_valid(generator):
    for name in generator.dashboards():
        json.loads((REPO / "grafana" / "dashboards" / name).read_text(encoding="utf-8"))


def test_every_service_is_limited_and_hardened(compose):
    for name, svc in compose["services"].items():
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= set(limits), f"{name} has no CPU and memory limits"
        assert svc.get("cap_drop") == ["ALL"], f"{name} keeps Linux capabilities"
        assert "no-new-privileges:true" in svc.get("security_opt", []), f"{name} may gain privileges"
        assert svc.get("read_only") is True, f"{name} has a writable root file system"


def test_read_only_services_can_still_write_where_they_must(compose):
    """Each path a service writes is a named volume or a tmpfs: a read-only root would otherwise stop it."""

    def writable(svc: dict) -> set[str]:
        volumes = {str(v).split(":")[1] for v in svc.get("volumes", []) if not str(v).startswith(".")}
        return volumes | {str(t).split(":")[0] for t in svc.get("tmpfs", [])}

    for name in APIS:
        svc = compose["services"][name]
        env = svc["environment"]
        needed = {str(Path(env["DATABASE_PATH"]).parent), str(Path(env["PROMETHEUS_MULTIPROC_DIR"]).parent),
                  "/hf-cache", "/tmp"}
        assert needed <= writable(svc), f"{name} cannot write {needed - writable(svc)}"
    assert {"/hf-cache", "/tmp"} <= writable(compose["services"]["inference"])
    run_dir = re.search(r"FRONT_RUN_DIR=(\S+)", (REPO / "services/front/Dockerfile").read_text()).group(1)
    for front in FRONTS.values():
        assert run_dir in writable(compose["services"][front]), f"{front} cannot write {run_dir}"
    assert "/prometheus" in writable(compose["services"]["prometheus"])
    assert {"/var/lib/grafana", "/var/log/grafana", "/tmp"} <= writable(compose["services"]["grafana"])


def test_the_stack_files_name_every_framework_of_the_catalog(prometheus_config, compose):
    from bench import catalog

    labelled = {
        target: group["labels"].get("framework")
        for job in prometheus_config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    k6_urls = dict(re.findall(r"^\s+(\w+): 'http://127\.0\.0\.1:(\d+)',$", (REPO / "k6/lib/config.js").read_text(), re.M))
    for name in catalog.frameworks():
        found = catalog.service(name)
        compose_name, port = found.directory.name, found.default_port
        assert str(compose["services"][compose_name]["environment"]["PORT"]) == str(port), name
        assert labelled.get(f"{compose_name}:{port}") == name, f"prometheus.yml does not scrape {name}"
        assert k6_urls.get(name) == str(port), f"k6/lib/config.js DEFAULT_URLS lacks {name}"
    assert set(k6_urls) == set(catalog.frameworks())
    [api_job] = [job for job in prometheus_config["scrape_configs"] if job["job_name"] == "blog-api"]
    assert {group["labels"]["framework"] for group in api_job["static_configs"]} == set(catalog.frameworks())
