"""Pure workload-resolution logic: label parsing, name validation, selectors, summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.k8s.names import is_dns1123_label, is_dns1123_subdomain
from shared.k8s.reads import Revision, hpa_summary, pod_summary, recent_deploy
from shared.workload.resolve import candidates_from_labels, controller_of, selector_string


def test_candidates_in_priority_order_and_namespace() -> None:
    hints = candidates_from_labels(
        {
            "namespace": "shop",
            "pod": "checkout-7d9f8b6c5-x2x4z",
            "deployment": "checkout",
            "app": "checkout",
            "job": "kubernetes-pods",
            "container": "checkout",
        },
        "default",
    )
    assert hints.namespace == "shop" and hints.namespace_from_label
    kinds = [(c.kind, c.name) for c in hints.candidates]
    assert kinds[0] == ("Deployment", "checkout")
    assert kinds[1] == ("Pod", "checkout-7d9f8b6c5-x2x4z")
    assert ("App", "checkout") in kinds
    assert not any(c.kind == "Job" for c in hints.candidates)  # scrape job names are ignored
    assert hints.container == "checkout"


def test_a_job_name_comes_before_the_app_label_its_cronjobs_runs_share() -> None:
    # KubeJobFailed (kube-state-metrics) names one run; `app` matches every run's pods
    hints = candidates_from_labels(
        {"namespace": "batch", "job_name": "export-29943480", "app": "export"}, "default"
    )
    assert [(c.kind, c.name) for c in hints.candidates] == [
        ("Job", "export-29943480"),
        ("App", "export"),
    ]


def test_default_namespace_and_relabelled_app_label() -> None:
    hints = candidates_from_labels({"app_kubernetes_io_name": "cart"}, "default")
    assert hints.namespace == "default" and not hints.namespace_from_label
    assert [(c.label, c.kind) for c in hints.candidates] == [("app_kubernetes_io_name", "App")]


def test_invalid_names_are_reported_not_used() -> None:
    hints = candidates_from_labels(
        {"namespace": "Shop_1", "deployment": "../etc", "pod": "a" * 300}, "default"
    )
    assert hints.namespace == ""
    assert hints.candidates == []
    assert len(hints.problems) == 3
    assert any("namespace 'Shop_1'" in p for p in hints.problems)


def test_dns1123() -> None:
    assert is_dns1123_label("shop-1")
    assert not is_dns1123_label("-shop")
    assert not is_dns1123_label("a" * 64)
    assert is_dns1123_subdomain("v1beta1.metrics.k8s.io")
    assert not is_dns1123_subdomain("Upper")
    assert not is_dns1123_subdomain("a/b")


def test_selector_string() -> None:
    sel = {
        "matchLabels": {"app": "web", "tier": "fe"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "canary"]},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert selector_string(sel) == "app=web,tier=fe,env in (prod,canary),!legacy"
    assert selector_string(None) == ""


def test_controller_of_prefers_the_controller() -> None:
    obj = {
        "metadata": {
            "ownerReferences": [
                {"kind": "Other", "name": "x"},
                {"kind": "ReplicaSet", "name": "rs", "controller": True},
            ]
        }
    }
    assert controller_of(obj) == {"kind": "ReplicaSet", "name": "rs", "controller": True}
    assert controller_of({"metadata": {}}) is None


def test_pod_summary_oom() -> None:
    pod = {
        "metadata": {"name": "p", "creationTimestamp": "2024-06-12T10:00:00Z"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "x",
                    "ready": False,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    "lastState": {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": 137,
                            "finishedAt": "2024-06-12T10:05:00Z",
                        }
                    },
                }
            ],
        },
    }
    s = pod_summary(pod)
    assert not s["ready"] and s["restarts"] == 4
    c = s["containers"][0]
    assert c["waiting_reason"] == "CrashLoopBackOff"
    assert c["last_termination"] == {
        "reason": "OOMKilled",
        "exit_code": 137,
        "finished_at": "2024-06-12T10:05:00Z",
        "started_at": None,
    }


def test_recent_deploy_window() -> None:
    now = datetime(2024, 6, 12, 12, 0, tzinfo=UTC)
    hist = [
        Revision(1, "a", now - timedelta(days=2), ["img:1"], 0),
        Revision(2, "b", now - timedelta(minutes=12), ["img:2"], 3),
    ]
    rd = recent_deploy(hist, 30, now)
    assert rd is not None
    assert rd["recent"] and rd["revision"] == 2 and rd["previous_revision"] == 1
    assert rd["images"] == ["img:2"] and rd["previous_images"] == ["img:1"]
    assert rd["created"] == "2024-06-12T11:48:00Z"
    assert recent_deploy(hist, 10, now)["recent"] is False  # type: ignore[index]
    assert recent_deploy([], 30, now) is None


def test_hpa_summary_at_max_and_blind() -> None:
    hpa = {
        "metadata": {"name": "web"},
        "spec": {"minReplicas": 2, "maxReplicas": 4},
        "status": {
            "currentReplicas": 4,
            "desiredReplicas": 4,
            "conditions": [
                {
                    "type": "ScalingActive",
                    "status": "False",
                    "reason": "FailedGetResourceMetric",
                    "message": "unable to get metrics",
                },
            ],
        },
    }
    s = hpa_summary(hpa)
    assert s["at_max"] and not s["scaling_active"]
    assert s["failed_metrics"] == ["unable to get metrics"]
