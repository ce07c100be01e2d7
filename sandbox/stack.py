"""The whole loop on one machine: emulators, topics and push subscriptions, every function under
functions-framework, a local Slack API (which also plays Slack's side of button clicks, signed
with the local signing secret), a timer that feeds the sweeper (Cloud Scheduler's job in GCP),
and (without KUBECONFIG) a sandbox Kubernetes API.

Each function gets its own environment, as each Cloud Run function has its own: the common
settings (`env_overrides`) that it reads (shared/envvars.py says which function reads what; the
rest is withheld, Kubernetes credentials included), then its own (`function_overrides`). With a
sandbox cluster that enforces deploy/rbac.yaml, `sandbox_identities` gives every function with a
cluster identity (shared/k8s/permissions.py: investigate, remediate, rollback, and the read-only
dispatch and sweeper) a kubeconfig of its own, so the loop runs with least privilege for real.

Used by `make run` / `make demo` (sandbox.run) and by the end-to-end tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from sandbox.emulators import Emulators
from sandbox.faultproxy import FaultProxy
from sandbox.procs import Proc, free_port, wait_until
from sandbox.slack_api import SlackApiServer
from shared import envvars
from shared.k8s.permissions import IDENTITIES
from shared.registry import FUNCTIONS, STAGE_TOPICS, FunctionSpec

if TYPE_CHECKING:
    from sandbox.kube_api import KubeApiServer

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "alertloop-local"
TOPIC_PREFIX = "alertloop-"
LOCAL_TOKEN = "local-dev-token"
SLACK_TOKEN = "xoxb-local-test"
SLACK_SIGNING_SECRET = "local-slack-signing-secret"
# The local Slack workspace: one on-call person in one user group. Who may do what is the same
# configuration a deployment uses (ALERTLOOP_SLACK_PERMISSIONS), with the group resolved through
# the local server's usergroups.users.list.
LOCAL_USER = "ULOCALDEV"
LOCAL_GROUP = "S0ONCALL"
LOCAL_PERMISSIONS = (
    '{"approve": ["S0ONCALL"], "silence": ["S0ONCALL"], "take_over": ["S0ONCALL"], '
    '"acknowledge": ["*"], "verdict": ["*"]}'
)
RBAC_MANIFEST = ROOT / "deploy" / "rbac.yaml"
# What reaches a Kubernetes API; a function that does not use Kubernetes never gets them.
KUBERNETES_CREDENTIALS = ("KUBECONFIG", "KUBE_CONFIG_DATA", "KUBERNETES_SERVICE_HOST")


def sandbox_identities(kubeconfigs: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Per-function overrides from function -> kubeconfig path (one per RBAC identity)."""
    return {fn: {"KUBECONFIG": str(path)} for fn, path in kubeconfigs.items()}


def rbac_sandbox(scenario: Any, namespaces: Iterable[str]) -> KubeApiServer:
    """A sandbox API server enforcing deploy/rbac.yaml, its namespaced Roles in `namespaces`
    (the remediation allow-list), with one bearer token per function identity."""
    from sandbox.kube_api import KubeApiServer, function_users

    return KubeApiServer(
        scenario,
        users=function_users(),
        rbac_yaml=RBAC_MANIFEST,
        rbac_namespaces=list(namespaces),
    )


def kubeconfigs_of(kube: KubeApiServer) -> dict[str, str]:
    """function -> a kubeconfig of its own identity on a started `rbac_sandbox`."""
    return {fn: kube.kubeconfig_for(f"{fn}-token") for fn in IDENTITIES}


def _consumer(topic: str) -> FunctionSpec | None:
    """The function a topic's push subscription delivers to (None: nobody consumes it)."""
    return next((spec for spec in FUNCTIONS if spec.topic == topic), None)


@dataclass
class Stack:
    workdir: Path
    env_overrides: dict[str, str] = field(default_factory=dict)  # every function's
    function_overrides: dict[str, dict[str, str]] = field(default_factory=dict)  # one's own
    slack_listener: Any = None
    source_dir: Path = ROOT  # where main.py lives (the repo, or an unpacked deploy bundle)
    max_delivery_attempts: int = 5
    emulators: Emulators | None = None
    slack: SlackApiServer | None = None
    functions: dict[str, Proc] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    extra: list[Proc] = field(default_factory=list)
    # Functions reach Firestore through this proxy (fault tests switch it down and up).
    firestore_proxy: FaultProxy | None = None
    proxy_firestore: bool = False
    # The sweeper's schedule (Cloud Scheduler in GCP): a timer publishing to `sweep`; 0 = off.
    sweep_interval: float = 60.0
    _sweep_stop: threading.Event = field(default_factory=threading.Event)
    _sweep_thread: threading.Thread | None = None

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['ingest']}/"

    @property
    def interact_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['interact']}/"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['console']}/"

    @property
    def console_login_url(self) -> str:
        """Opens the console in a browser: the login link sets the session cookie."""
        return f"{self.console_url}login?token={LOCAL_TOKEN}"

    def function_env(self, name: str | None = None) -> dict[str, str]:
        """The environment a function runs with (`name` None: what every function shares)."""
        assert self.emulators and self.slack
        env = {
            **self.emulators.env(),
            **(
                {"FIRESTORE_EMULATOR_HOST": self.firestore_proxy.address}
                if self.firestore_proxy
                else {}
            ),
            "ALERTLOOP_TOPIC_PREFIX": TOPIC_PREFIX,
            "ALERTLOOP_WEBHOOK_TOKEN": LOCAL_TOKEN,
            "ALERTLOOP_LOG_FORMAT": "text",
            "ALERTLOOP_RUN_URL_TEMPLATE": "",
            # Slack's Run log button opens the incident in the local console.
            **(
                {"ALERTLOOP_CONSOLE_URL": self.console_url.rstrip("/")}
                if "console" in self.ports
                else {}
            ),
            "ALERTLOOP_CONSOLE_TOKEN": LOCAL_TOKEN,
            "ALERTLOOP_STAGE_TIMEOUT_SECONDS": "60",
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_API_URL": self.slack.url,
            "SLACK_CHANNEL": "#alerts-local",
            "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
            "ALERTLOOP_SLACK_PERMISSIONS": LOCAL_PERMISSIONS,
            "ALERTLOOP_SLACK_TEAMS": "T0ALERTLOOP",  # the local Slack server's workspace
            "PYTHONUNBUFFERED": "1",
        }
        env.update(self.env_overrides)
        if name is not None:
            for key in self.withheld(name):
                env.pop(key, None)
            env.update(self.function_overrides.get(name, {}))
        return env

    def withheld(self, name: str) -> tuple[str, ...]:
        """Names a function must not inherit from this process (nor from `env_overrides`): every
        registered variable it does not read (shared/envvars.py), as a deployed function gets
        only its own; and with Kubernetes credentials of its own, the other credentials (a
        shell's KUBE_CONFIG_DATA must not stand in for its identity)."""
        own = self.function_overrides.get(name, {})
        names = set(envvars.not_read_by(name))
        if set(own) & set(KUBERNETES_CREDENTIALS):
            names |= set(KUBERNETES_CREDENTIALS)
        return tuple(sorted(names - set(own)))

    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.emulators = Emulators(PROJECT, self.workdir).start()
        if self.proxy_firestore:
            host, port = self.emulators.firestore_host.rsplit(":", 1)
            self.firestore_proxy = FaultProxy(host, int(port)).start()
        self.slack = SlackApiServer(
            token=SLACK_TOKEN,
            on_event=self.slack_listener,
            usergroups={LOCAL_GROUP: [LOCAL_USER]},
        ).start()
        # Ports first: every function's environment names the console's URL.
        for spec in FUNCTIONS:
            self.ports.setdefault(spec.name, free_port())
        os.environ.update(self.emulators.env())
        # The Slack app's one interactivity Request URL, and the secret Slack signs clicks with.
        self.slack.interactivity_url = self.interact_url
        self.slack.signing_secret = self.function_env()["SLACK_SIGNING_SECRET"]
        for spec in FUNCTIONS:
            self.start_function(spec.name)
        self.create_topics()
        for name, proc in self.functions.items():
            port = self.ports[name]
            proc.wait_ready(lambda p=port: _listening(p), 60)
        if self.sweep_interval > 0:
            self._sweep_thread = threading.Thread(target=self._sweep_timer, daemon=True)
            self._sweep_thread.start()
        return self

    def sweep_now(self) -> None:
        """One tick of the sweeper's schedule (what Cloud Scheduler publishes)."""
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        topic = f"projects/{PROJECT}/topics/{TOPIC_PREFIX}sweep"
        pubsub_v1.PublisherClient().publish(topic, b'{"kind": "sweep"}').result(timeout=30)

    def _sweep_timer(self) -> None:
        while not self._sweep_stop.wait(self.sweep_interval):
            try:
                self.sweep_now()
            except Exception as exc:  # the next tick tries again, as Cloud Scheduler would
                print(f"sweep tick not published: {exc}", file=sys.stderr)

    def start_function(self, name: str) -> Proc:
        """One function under functions-framework on its port (again, after a kill), with its
        own environment."""
        spec = next(s for s in FUNCTIONS if s.name == name)
        ff = str(Path(sys.executable).parent / "functions-framework")
        self.functions[name] = Proc(
            name,
            [
                ff,
                "--source",
                str(self.source_dir / "main.py"),
                "--target",
                name,
                "--signature-type",
                spec.kind,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[name]),
            ],
            self.workdir / "logs" / f"{name}.log",
            env=self.function_env(name),
            cwd=self.source_dir,
            unset=self.withheld(name),
        )
        return self.functions[name]

    def kill_function(self, name: str) -> None:
        """SIGKILL a function's process group, mid-whatever (a crashed instance)."""
        proc = self.functions[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(10)
        proc.stop()

    def restart_function(self, name: str) -> None:
        self.start_function(name)
        port = self.ports[name]
        self.functions[name].wait_ready(lambda: _listening(port), 60)

    def create_topics(self) -> None:
        # The dead-letter topic first: the other subscriptions name it.
        for topic in sorted(STAGE_TOPICS, key=lambda t: t != "deadletter"):
            self.create_topic(topic)

    def create_topic(self, topic: str) -> None:
        """A stage topic and, if a function consumes it, its push subscription."""
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        path = f"projects/{PROJECT}/topics/{TOPIC_PREFIX}"
        pubsub_v1.PublisherClient().create_topic(name=path + topic)
        spec = _consumer(topic)
        if spec is None:
            return
        fn = spec.name
        request: dict[str, Any] = {
            "name": f"projects/{PROJECT}/subscriptions/{TOPIC_PREFIX}{topic}-push",
            "topic": path + topic,
            "push_config": {"push_endpoint": self._push_endpoint(fn, topic)},
            "ack_deadline_seconds": 60,
            "retry_policy": {
                "minimum_backoff": {"seconds": 1},
                "maximum_backoff": {"seconds": 10},
            },
            "enable_message_ordering": topic == "notify",
        }
        if topic != "deadletter":
            request["dead_letter_policy"] = {
                "dead_letter_topic": path + "deadletter",
                # As deployed: dispatch's own attempts (the registry's, as Terraform uses), or
                # more than a stage makes before it dead-letters the run itself.
                "max_delivery_attempts": spec.delivery_attempts
                or max(5, self.max_delivery_attempts + 5),
            }
        pubsub_v1.SubscriberClient().create_subscription(request=request)

    def hold_pushes(self, topic: str) -> None:
        """Messages on a topic wait in its subscription, not pushed (a worker that is down: the
        emulator, unlike Pub/Sub, may never push again what was refused while it was)."""
        self._push_config(topic, {})

    def resume_pushes(self, topic: str) -> None:
        spec = _consumer(topic)
        assert spec is not None, f"no function consumes {topic}"
        self._push_config(topic, {"push_endpoint": self._push_endpoint(spec.name, topic)})

    def _push_endpoint(self, fn: str, topic: str) -> str:
        # functions-framework derives the CloudEvent source from this path.
        return f"http://127.0.0.1:{self.ports[fn]}/projects/{PROJECT}/topics/{TOPIC_PREFIX}{topic}"

    def _push_config(self, topic: str, config: dict[str, str]) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        pubsub_v1.SubscriberClient().modify_push_config(
            request={
                "subscription": f"projects/{PROJECT}/subscriptions/{TOPIC_PREFIX}{topic}-push",
                "push_config": config,
            }
        )

    def delete_topic(self, topic: str) -> None:
        """Take a topic (and its push subscription) away: publishing to it now fails."""
        from google.api_core import exceptions as gexc
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        with contextlib.suppress(gexc.NotFound):
            pubsub_v1.SubscriberClient().delete_subscription(
                subscription=f"projects/{PROJECT}/subscriptions/{TOPIC_PREFIX}{topic}-push"
            )
        pubsub_v1.PublisherClient().delete_topic(
            topic=f"projects/{PROJECT}/topics/{TOPIC_PREFIX}{topic}"
        )

    def pull_subscription(self, topic: str) -> str:
        """A pull subscription on a topic, for tests that watch what gets published."""
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        name = f"projects/{PROJECT}/subscriptions/watch-{topic}-{free_port()}"
        pubsub_v1.SubscriberClient().create_subscription(
            name=name, topic=f"projects/{PROJECT}/topics/{TOPIC_PREFIX}{topic}"
        )
        return name

    def stop(self) -> None:
        self._sweep_stop.set()
        procs = [*self.functions.values(), *self.extra]
        if self.emulators:
            procs += [p for p in (self.emulators.pubsub, self.emulators.firestore) if p]
        # Every process is told at once, then each is waited for: a function takes 1-2 s to
        # shut down, and fourteen of them one after another took ~20 s per stack.
        for proc in procs:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.stop()
        if self.slack:
            self.slack.stop()
        if self.firestore_proxy:
            self.firestore_proxy.stop()
        if self.emulators:
            self.emulators.stop()

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listening(port: int) -> bool:
    # Any HTTP answer means the worker is up (GET on a CloudEvent function answers 4xx/405).
    requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    return True


def wait_for(check: Any, timeout: float, what: str) -> None:
    wait_until(check, timeout, what, interval=0.25)


def fire(
    ingest_url: str, body: dict[str, Any], token: str = LOCAL_TOKEN, timeout: float = 30
) -> requests.Response:
    return requests.post(
        ingest_url, json=body, timeout=timeout, headers={"Authorization": f"Bearer {token}"}
    )


def elapsed(t0: float) -> str:
    return f"{time.monotonic() - t0:.1f}s"
