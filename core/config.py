"""Settings, read from the environment (`FEDERA_*`) with embedded defaults.

The embedded default is SQLite under the data folder and in-process jobs; setting
`FEDERA_DATABASE_URL` and `FEDERA_REDIS_URL` switches to the production shape.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _data_dir() -> Path:
    return Path(os.environ.get("FEDERA_DATA_DIR") or Path.cwd() / "instance").resolve()


def _secret_key(data_dir: Path) -> str:
    """FEDERA_SECRET_KEY, else a key generated once and kept in the data folder."""
    if os.environ.get("FEDERA_SECRET_KEY"):
        return os.environ["FEDERA_SECRET_KEY"]
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _plugins(value: str | None) -> list[str] | None:
    """`FEDERA_PLUGINS`: comma-separated names, or unset/`all` for every installed plugin."""
    if value is None or value.strip() in ("", "all", "*"):
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def load_config(overrides: dict | None = None) -> dict:
    overrides = dict(overrides or {})
    data_dir = Path(overrides.get("DATA_DIR") or _data_dir())
    config = {
        "DATA_DIR": data_dir,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("FEDERA_DATABASE_URL")
        or f"sqlite:///{data_dir / 'federa.sqlite'}",
        "REDIS_URL": os.environ.get("FEDERA_REDIS_URL") or None,
        "PLUGINS": _plugins(os.environ.get("FEDERA_PLUGINS")),
        "SMTP_HOST": os.environ.get("FEDERA_SMTP_HOST") or None,
        "SMTP_PORT": int(os.environ.get("FEDERA_SMTP_PORT", "587")),
        "SMTP_USER": os.environ.get("FEDERA_SMTP_USER") or None,
        "SMTP_PASSWORD": os.environ.get("FEDERA_SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": os.environ.get("FEDERA_SMTP_STARTTLS", "1") == "1",
        "MAIL_FROM": os.environ.get("FEDERA_MAIL_FROM", "Federa <no-reply@federa.local>"),
        "BASE_URL": os.environ.get("FEDERA_BASE_URL", "http://127.0.0.1:5000"),
        # Reverse proxies in front of Federa whose X-Forwarded-For/-Proto/-Host are trusted (0: none, the default;
        # never more than there are, or clients could pretend to come from any address).
        "PROXY_COUNT": int(os.environ.get("FEDERA_PROXY_COUNT", "0")),
        # Development/demo mode relaxes a few checks meant for the internet (e.g. http push endpoints on loopback).
        "DEMO_MODE": os.environ.get("FEDERA_DEMO_MODE", "0") == "1",
        # Jobs: in the embedded default a few worker threads run inside the web process.
        "JOBS_INPROCESS_THREADS": int(os.environ.get("FEDERA_JOB_THREADS", "2")),
        "API_TOKEN_TTL_SECONDS": int(os.environ.get("FEDERA_API_TOKEN_TTL", str(30 * 24 * 3600))),
        "PASSWORD_RESET_TTL_SECONDS": 3600,
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": 5,
        "LOGIN_MAX_FAILURES_PER_IP": 30,
        "LOGIN_FAILURE_WINDOW_SECONDS": 15 * 60,
        "RESET_MAX_PER_ACCOUNT": 3,
        "RESET_MAX_PER_IP": 20,
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "BABEL_DEFAULT_LOCALE": "nl",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Brussels",
        "LANGUAGES": ["nl", "fr", "en"],
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        "API_TITLE": "Federa API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": None,
        "OPENAPI_RAPIDOC_PATH": "/docs",
        "OPENAPI_RAPIDOC_URL": "https://unpkg.com/rapidoc/dist/rapidoc-min.js",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    }
    config.update(overrides)
    config["DATA_DIR"] = Path(config["DATA_DIR"])
    if "SECRET_KEY" not in config:
        config["SECRET_KEY"] = _secret_key(config["DATA_DIR"])
    return config
