"""The security tests reuse the web tests' sandbox apps, browser client and Chromium (tests/web/conftest.py)."""

from tests.web.conftest import (  # noqa: F401  (fixtures are found by name)
    app_server,
    browser,
    chromium,
    outbound,
    patients,
)
