import re
from pathlib import Path

import pytest

from faas import config
from faas.config import Settings, table
from faas.config.settings import declarations

NUMBERS = [s.var for s in declarations().values() if type(s.default) in (int, float)]


def test_defaults():
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.platform_id) == ("127.0.0.1", 8080, "default")


def test_reads_variables():
    settings = Settings.from_env({"FAAS_PORT": "9090", "FAAS_REAPER_INTERVAL": "0.5", "FAAS_REDIS_URL": "redis://x/1",
                                  "FAAS_BUILD_CA_BUNDLE": ""})
    assert settings.port == 9090 and settings.reaper_interval == 0.5 and settings.redis_url == "redis://x/1"
    assert settings.build_ca_bundle is None


@pytest.mark.parametrize("name,value,match", [("FAAS_PORT", "eighty", "integer"),
                                              ("FAAS_REAPER_INTERVAL", "soon", "number"),
                                              ("FAAS_PLATFORM_ID", "Has Spaces", "lower-case"),
                                              ("FAAS_PLATFORM_ID", "ok\n", "lower-case"),
                                              ("FAAS_KEEPALIVE_TIMEOUT", "15s", "number"),
                                              ("FAAS_LOG_MAX_MB", "lots", "number"),
                                              ("FAAS_LOG_FUNCTION_MB", "16\n16", "number"),
                                              ("FAAS_SANDBOX", "gVisor", "runc, gvisor"),
                                              ("FAAS_SANDBOX", "gvisor\n", "runc, gvisor"),
                                              ("FAAS_QUEUE_MAX_MESSAGES", "0", "at least"),
                                              ("FAAS_QUEUE_MAX_MB", "0.5", "at least"),
                                              ("FAAS_QUEUES_MAX_MB", "10", "at least"),
                                              ("FAAS_QUEUE_MAX_MB", "1e400", "at least"),
                                              ("FAAS_QUEUE_MAX_MB", "nan", "at least")])
def test_bad_values_say_which_variable(name, value, match):
    with pytest.raises(ValueError, match=f"{name} must be .*{match}"):
        Settings.from_env({name: value})


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1000000000000"])
@pytest.mark.parametrize("name", NUMBERS)
def test_numbers_out_of_their_range_are_refused_with_the_name(name, value):
    with pytest.raises(ValueError, match=f"^{name} must be "):
        Settings.from_env({name: value})


@pytest.mark.parametrize("name,value,message", [
    ("FAAS_REAPER_INTERVAL", "nan", "FAAS_REAPER_INTERVAL must be at least 0.01 and at most 3600, not nan"),
    ("FAAS_PORT", "-1", "FAAS_PORT must be at least 1 and at most 65535, not -1"),
    ("FAAS_PORT", "65536", "FAAS_PORT must be at least 1 and at most 65535, not 65536"),
    ("FAAS_WORKER_LEASE", "0", "FAAS_WORKER_LEASE must be at least 0.1 and at most 3600, not 0.0"),
    ("FAAS_LOG_MAX_MB", "0", "FAAS_LOG_MAX_MB must be at least 1 and at most 1048576 (MB), not 0.0"),
    ("FAAS_HOST_MEMORY_MB", "-512", "FAAS_HOST_MEMORY_MB must be at least 0 and at most 16777216, not -512"),
])
def test_the_message_says_the_range(name, value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Settings.from_env({name: value})


def test_the_edges_of_a_range_are_in_it():
    s = Settings.from_env({"FAAS_PORT": "65535", "FAAS_QUEUE_TIMEOUT": "0", "FAAS_QUEUE_LENGTH": "0",
                           "FAAS_CELLS_MIN": "0", "FAAS_CELLS_MAX": "256", "FAAS_LOG_MAX_MB": "1.5"})
    assert (s.port, s.queue_timeout, s.queue_length, s.cells_max, s.log_max_bytes) == (65535, 0, 0, 256, 3 << 19)
    assert Settings.from_env({"FAAS_HOST_MEMORY_MB": "0"}).host_memory_mb > 0  # 0: a share of the host's memory


def test_values_given_to_from_env_are_checked_too():
    assert Settings.from_env({"FAAS_NODE_TOKEN": "t" * 16}, role="node").role == "node"
    with pytest.raises(ValueError, match="FAAS_PORT must be at least 1"):
        Settings.from_env({}, port=0)
    with pytest.raises(ValueError, match="FAAS_ROLE must be one of all, frontend, node"):
        Settings.from_env({}, role="nodes")
    with pytest.raises(TypeError):
        Settings.from_env({}, no_such_setting=1)


def test_every_setting_is_declared_with_a_variable_a_default_and_a_meaning():
    for name, setting in declarations().items():
        assert re.fullmatch(r"FAAS_[A-Z_]+|DOCKER_HOST", setting.var), name
        assert setting.doc.strip() and setting.shown.strip(), name
    variables = [v.name for s in declarations().values() for v in s.variables]
    assert len(variables) == len(set(variables))


def test_the_config_package_reads_only_declared_variables():
    declared = {v.name for v in table.variables()}
    source = "".join(p.read_text() for p in Path(config.__file__).parent.glob("*.py"))
    assert set(re.findall(r"FAAS_[A-Z_]*[A-Z]", source)) <= declared


def test_the_readme_holds_the_table_the_declarations_print():
    """Edit a setting's declaration, then `python -m faas.config --markdown` and paste the table under the marker."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"{table.MARKER}\n{table.markdown()}\n" in readme


def test_the_table_has_a_line_per_variable():
    lines = table.markdown().splitlines()
    names = [v.name for v in table.variables()]
    assert len(lines) == 2 + len(names) == 2 + len(set(names))
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 5 for line in lines)  # four cells (a `|` in one is escaped)
    assert {"FAAS_PORT", "FAAS_API_TOKEN_FILE", "FAAS_REDIS_PASSWORD_FILE", "FAAS_VAR_DIR"} <= set(names)


def test_python_m_faas_config_prints_the_table(capsys):
    from faas.config.__main__ import main

    assert main(["--markdown"]) == 0
    assert capsys.readouterr().out == table.markdown()
    assert main([]) == 2


def test_api_token_from_a_file(tmp_path):
    secret = tmp_path / "api-token"
    secret.write_text("faas_admin_from_file\n")
    settings = Settings.from_env({"FAAS_API_TOKEN_FILE": str(secret)})
    assert settings.api_token == settings.client_token == "faas_admin_from_file"
    assert Settings.from_env({"FAAS_API_TOKEN": "direct", "FAAS_API_TOKEN_FILE": str(secret)}).api_token == "direct"
    with pytest.raises(ValueError, match="FAAS_API_TOKEN_FILE: cannot read"):
        Settings.from_env({"FAAS_API_TOKEN_FILE": str(tmp_path / "missing")})
    secret.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        Settings.from_env({"FAAS_API_TOKEN_FILE": str(secret)})


def test_the_redis_password_comes_from_its_file(tmp_path):
    secret = tmp_path / "redis-password"
    secret.write_text("s3cr/t+x\n")
    settings = Settings.from_env({"FAAS_REDIS_URL": "redis://127.0.0.1:6390/0",
                                  "FAAS_REDIS_PASSWORD_FILE": str(secret)})
    assert settings.redis_url == "redis://:s3cr%2Ft%2Bx@127.0.0.1:6390/0"
    import redis

    assert redis.Redis.from_url(settings.redis_url).connection_pool.connection_kwargs["password"] == "s3cr/t+x"
    assert settings.redis_url_shown == "redis://:***@127.0.0.1:6390/0"  # what the logs may show
    # scripts/up's private Redis, through its Unix socket
    local = Settings.from_env({"FAAS_REDIS_URL": "unix:///srv/faas/var/redis/redis.sock?db=0",
                               "FAAS_REDIS_PASSWORD_FILE": str(secret)})
    assert local.redis_url == "unix://:s3cr%2Ft%2Bx@/srv/faas/var/redis/redis.sock?db=0"
    kwargs = redis.Redis.from_url(local.redis_url).connection_pool.connection_kwargs
    assert (kwargs["password"], kwargs["path"], kwargs["db"]) == ("s3cr/t+x", "/srv/faas/var/redis/redis.sock", 0)
    assert local.redis_url_shown == "unix://:***@/srv/faas/var/redis/redis.sock?db=0"
    # A URL with a password of its own keeps it; no file, no password.
    assert Settings.from_env({"FAAS_REDIS_URL": "redis://:own@h:1/0", "FAAS_REDIS_PASSWORD_FILE": str(secret)}
                             ).redis_url == "redis://:own@h:1/0"
    assert Settings.from_env({"FAAS_REDIS_URL": "redis://h:1/0"}).redis_url == "redis://h:1/0"
    with pytest.raises(ValueError, match="FAAS_REDIS_PASSWORD_FILE: cannot read"):
        Settings.from_env({"FAAS_REDIS_PASSWORD_FILE": str(tmp_path / "missing")})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        Settings.from_env({"FAAS_REDIS_PASSWORD_FILE": str(tmp_path / "empty")})


def test_cells_settings():
    settings = Settings.from_env({"FAAS_CELLS_MIN": "2", "FAAS_CELLS_MAX": "5", "FAAS_CELLS_DIR": "/srv/cells",
                                  "FAAS_CELLS_PLACEMENT": "link"})
    assert (settings.cells_min, settings.cells_max, str(settings.cells_dir), settings.cells_placement) == (
        2, 5, "/srv/cells", "link")
    off = Settings.from_env({"FAAS_CELLS_MIN": "4", "FAAS_CELLS_MAX": "0"})  # MAX 0 turns cells off, whatever MIN
    assert off.cells_max == 0


@pytest.mark.parametrize("env,match", [
    ({"FAAS_CELLS_MIN": "few"}, "FAAS_CELLS_MIN must be an integer"),
    ({"FAAS_CELLS_MAX": "1e9"}, "FAAS_CELLS_MAX must be an integer"),
    ({"FAAS_CELLS_MIN": "-1"}, "FAAS_CELLS_MIN must be at least 0 and at most 256, not -1"),
    ({"FAAS_CELLS_MAX": "-1"}, "FAAS_CELLS_MAX must be at least 0 and at most 256, not -1"),
    ({"FAAS_CELLS_MAX": "257"}, "FAAS_CELLS_MAX must be at least 0 and at most 256, not 257"),
    ({"FAAS_CELLS_MIN": "5", "FAAS_CELLS_MAX": "4"}, "0 <= MIN <= MAX <= 256"),
    ({"FAAS_CELLS_PLACEMENT": "mount\n"}, "FAAS_CELLS_PLACEMENT must be"),
    ({"FAAS_CELLS_PLACEMENT": "bind"}, "FAAS_CELLS_PLACEMENT must be"),
])
def test_bad_cells_settings_are_refused(env, match):
    with pytest.raises(ValueError, match=match):
        Settings.from_env(env)


def test_redis_sentinels_service_and_replicas():
    s = Settings.from_env({"FAAS_REDIS_SENTINELS": "10.0.0.1:26379, sentinel-2.local:26380,[::1]:5",
                           "FAAS_REDIS_SERVICE": "faas-main", "FAAS_REDIS_MIN_REPLICAS": "1"})
    assert s.redis_sentinels == (("10.0.0.1", 26379), ("sentinel-2.local", 26380), ("::1", 5))
    assert (s.redis_service, s.redis_min_replicas) == ("faas-main", 1)
    plain = Settings.from_env({})
    assert (plain.redis_sentinels, plain.redis_service, plain.redis_min_replicas) == ((), "faas", 0)


@pytest.mark.parametrize("env", [
    {"FAAS_REDIS_SENTINELS": "host"}, {"FAAS_REDIS_SENTINELS": "host:0"}, {"FAAS_REDIS_SENTINELS": "host:65536"},
    {"FAAS_REDIS_SENTINELS": "host:26379\n"}, {"FAAS_REDIS_SENTINELS": "a:1,a:1"}, {"FAAS_REDIS_SENTINELS": "a:1,"},
    {"FAAS_REDIS_SENTINELS": "-a:1"}, {"FAAS_REDIS_SENTINELS": "a b:1"}, {"FAAS_REDIS_SENTINELS": "a:1x"},
    {"FAAS_REDIS_SENTINELS": "a" * 300 + ":1"}, {"FAAS_REDIS_SENTINELS": "user@a:1"},
    {"FAAS_REDIS_SENTINELS": "a:１"}, {"FAAS_REDIS_SERVICE": ""}, {"FAAS_REDIS_SERVICE": "faas\n"},
    {"FAAS_REDIS_SERVICE": "a" * 65}, {"FAAS_REDIS_SERVICE": "fa as"}, {"FAAS_REDIS_MIN_REPLICAS": "-1"},
    {"FAAS_REDIS_MIN_REPLICAS": "17"}, {"FAAS_REDIS_MIN_REPLICAS": "one"}, {"FAAS_REDIS_MIN_REPLICAS": "1\n1"},
    {"FAAS_REDIS_MIN_REPLICAS": "1.5"}, {"FAAS_REDIS_SENTINELS": "a:1\nb:2"},
])
def test_hostile_redis_sentinel_settings_are_refused(env):
    with pytest.raises(ValueError):
        Settings.from_env(env)
