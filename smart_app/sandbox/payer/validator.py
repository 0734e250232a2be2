"""HAPI FHIR's validator (tools/fhir-validator, `make fhir-validator`) as a child process of the sandbox payer, in
its server mode: it loads the IG packages once (about 20 s), then answers `POST /validate?profile=…` with an
OperationOutcome on 127.0.0.1.

    validator = start_validator(ValidatorSettings())   # returns once the JVM listens; loading goes on
    outcome = validator.validate(bundle, REQUEST_BUNDLE_PROFILE)   # waits (bounded) while it is still loading
    validator.stop()

The JVM ends with its parent: it is started with `--exit-on-stdin-eof` and our end of its stdin closes when this
process ends, however it ends. `acquire_validator`/`release_validator` share one JVM between the payers of a process
that use the same settings (a test session starts several payers; the JVM takes ~20 s and ~0.8 GB).
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

PROJECT = Path(__file__).resolve().parents[3]
DEFAULT_JAR = PROJECT / "tools/fhir-validator/target/fhir-validator.jar"
PROFILES_DIR = PROJECT / "fhir_profiles"
IG_PACKAGES = (
    "hl7.fhir.us.core-7.0.0",
    "hl7.fhir.us.davinci-pas-2.2.1",
    "hl7.fhir.us.davinci-dtr-2.0.1",
    "hl7.fhir.us.davinci-crd-2.0.1",
)
PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
REQUEST_BUNDLE_PROFILE = f"{PAS}/profile-pas-request-bundle"
RESPONSE_BUNDLE_PROFILE = f"{PAS}/profile-pas-response-bundle"
BUILD_HINT = "build it with `make fhir-validator`"
_LISTEN_TIMEOUT = 30.0
_STDERR_LINES = 40


class ValidatorUnavailable(RuntimeError):
    """The validator is not running, did not finish loading in time, or failed to answer."""


IGS_ENV = "SPINE_AUTH_PAYER_IGS"


def default_igs_dir() -> Path | None:
    """The folder of the HL7 packages named by $SPINE_AUTH_PAYER_IGS, or None. The app ships no IG packages and
    never looks for them beside itself: whoever runs the payer says where they are (the tests pass ../shared's)."""
    folder = os.environ.get(IGS_ENV, "").strip()
    return Path(folder).resolve() if folder else None


@dataclass(frozen=True)
class ValidatorSettings:
    """Where the jar and the packages are, and how the JVM runs (`max_heap`: -Xmx; `ready_timeout`: how long a
    submission waits for a validator that is still loading)."""

    jar: Path = DEFAULT_JAR
    igs_dir: Path | None = field(default_factory=default_igs_dir)
    profiles_dir: Path = PROFILES_DIR
    max_heap: str = "1g"
    ready_timeout: float = 120.0
    request_timeout: float = 120.0
    warm_up: tuple[str, ...] = (REQUEST_BUNDLE_PROFILE,)

    def packages(self) -> list[Path]:
        return [self.igs_dir / f"{name}.tgz" for name in IG_PACKAGES] if self.igs_dir is not None else []

    def missing(self) -> str | None:
        """Why the validator cannot start here (None when it can)."""
        if not self.jar.is_file():
            return f"the validator jar {self.jar} is not built; {BUILD_HINT}"
        if shutil.which("java") is None:
            return "java is not installed (`make java` installs Debian's JDK 17)"
        if self.igs_dir is None:
            return f"no folder of IG packages was given (--validator-igs DIR or ${IGS_ENV})"
        absent = [path.name for path in self.packages() if not path.is_file()]
        if absent:
            return f"the IG packages {', '.join(absent)} are not in {self.igs_dir}"
        return None

    def command(self) -> list[str]:
        command = ["java", f"-Xmx{self.max_heap}", "-Xss4m", "-XX:+UseSerialGC", "-jar", str(self.jar)]
        command += ["--serve", "0", "--exit-on-stdin-eof", "--profiles", str(self.profiles_dir)]
        for package in self.packages():
            command += ["--ig", str(package)]
        for profile in self.warm_up:
            command += ["--warm-up", profile]
        return command


class PasValidator:
    """A running validator process (see `start_validator`)."""

    def __init__(self, process: subprocess.Popen[bytes], settings: ValidatorSettings) -> None:
        self._process = process
        self.settings = settings
        self.port = 0
        self.load_seconds: float | None = None
        self._failure = ""
        self._listening = threading.Event()
        self._ready = threading.Event()
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        assert process.stdout is not None and process.stderr is not None
        threading.Thread(target=self._read_events, args=(process.stdout,), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(process.stderr,), daemon=True).start()

    @property
    def pid(self) -> int:
        return int(self._process.pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def _read_events(self, stream: IO[bytes]) -> None:
        for raw in stream:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if event.get("event") == "listening":
                self.port = int(event["port"])
                self._listening.set()
            elif event.get("event") == "ready":
                self.load_seconds = float(event.get("seconds", 0))
                self._ready.set()
            elif event.get("event") == "failed":
                self._failure = str(event.get("error", "unknown error"))

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in stream:
            self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    def exited(self) -> bool:
        return self._process.poll() is not None

    def _exited(self) -> str | None:
        code = self._process.poll()
        if code is None:
            return None
        detail = self._failure or " | ".join(list(self._stderr)[-5:]) or "no output"
        return f"the validator exited with code {code} ({detail})"

    def wait_listening(self, timeout: float = _LISTEN_TIMEOUT) -> None:
        self._wait(self._listening, timeout, "listen")

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the packages are loaded (at most `timeout`, default `settings.ready_timeout`)."""
        self._wait(self._ready, self.settings.ready_timeout if timeout is None else timeout, "load its packages")

    def _wait(self, event: threading.Event, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not event.wait(0.1):
            exited = self._exited()
            if exited:
                raise ValidatorUnavailable(exited)
            if time.monotonic() >= deadline:
                raise ValidatorUnavailable(f"the validator did not {what} within {timeout:.0f} s")

    def validate(self, resource: dict[str, Any], profile: str) -> dict[str, Any]:
        """The validator's OperationOutcome for `resource` against `profile` (waits while it is loading)."""
        self.wait_ready()
        try:
            response = requests.post(
                f"{self.url}/validate",
                params={"profile": profile},
                data=json.dumps(resource).encode("utf-8"),
                headers={"Content-Type": "application/fhir+json"},
                timeout=self.settings.request_timeout,
            )
        except requests.RequestException as error:
            message = self._exited() or f"the validator did not answer ({type(error).__name__})"
            raise ValidatorUnavailable(message) from error
        if response.status_code != 200:
            raise ValidatorUnavailable(f"the validator answered {response.status_code}: {response.text[:300]}")
        outcome: dict[str, Any] = response.json()
        return outcome

    def stop(self) -> None:
        if self._process.poll() is None:
            if self._process.stdin is not None:
                self._process.stdin.close()  # --exit-on-stdin-eof: a clean exit
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()


def start_validator(settings: ValidatorSettings) -> PasValidator:
    """Start the validator JVM; returns once it listens (under a second or two) while it goes on loading.
    Raises ValidatorUnavailable when it cannot start (`settings.missing()` says why beforehand)."""
    reason = settings.missing()
    if reason:
        raise ValidatorUnavailable(reason)
    process = subprocess.Popen(
        settings.command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # Ctrl+C in a terminal reaches the payer, which stops it
    )
    validator = PasValidator(process, settings)
    try:
        validator.wait_listening()
    except BaseException:
        validator.stop()
        raise
    return validator


_shared: dict[ValidatorSettings, tuple[PasValidator, int]] = {}
_shared_lock = threading.Lock()


def acquire_validator(settings: ValidatorSettings) -> PasValidator:
    """The process's running validator for these settings (started on first use, restarted if it died)."""
    with _shared_lock:
        running, users = _shared.get(settings, (None, 0))
        if running is None or running.exited():
            running, users = start_validator(settings), 0
        _shared[settings] = (running, users + 1)
        return running


def release_validator(validator: PasValidator) -> None:
    """One user fewer; the last one stops the JVM."""
    with _shared_lock:
        running, users = _shared.get(validator.settings, (None, 0))
        if running is validator:
            if users > 1:
                _shared[validator.settings] = (validator, users - 1)
                return
            del _shared[validator.settings]
    validator.stop()
