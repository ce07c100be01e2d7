"""`alertloop doctor` plans its SubjectAccessReviews from the permissions table."""

from __future__ import annotations

from shared.doctor import plan_checks, review_body
from shared.k8s.permissions import MUST_NOT, NEEDS, Access


def test_doctor_plans_every_need_and_must_not_per_namespace() -> None:
    ids = {"investigate": "i@p.iam.gserviceaccount.com", "rollback": "r@p.iam.gserviceaccount.com"}
    checks = plan_checks(ids, ("shop", "api"))
    assert {c.identity for c in checks} == {"investigate", "rollback"}  # remediate: no identity
    rollback_needs = [c for c in checks if c.identity == "rollback" and c.want]
    assert len(rollback_needs) == 2 * len(NEEDS["rollback"])  # each in shop and in api
    assert {c.namespace for c in rollback_needs} == {"shop", "api"}
    # no allow-list: nothing namespaced is needed, but must-nots are still probed in "default"
    bare = plan_checks(ids, ())
    assert not [c for c in bare if c.identity == "rollback" and c.want]
    probe = [c for c in bare if c.identity == "investigate" and not c.want
             and c.access.verb == "patch" and c.access.resource == "deployments"]  # fmt: skip
    assert {c.namespace for c in probe} >= {"default", "kube-system", ""}
    assert len([c for c in checks if not c.want and c.identity == "investigate"]) >= len(
        MUST_NOT["investigate"]
    )


def test_review_body_is_what_kubectl_auth_can_i_asks() -> None:
    body = review_body("u@p.iam.gserviceaccount.com", Access("get", "pods/log"), "shop")
    assert body["kind"] == "SubjectAccessReview"
    assert body["spec"]["user"] == "u@p.iam.gserviceaccount.com"
    assert body["spec"]["resourceAttributes"] == {
        "verb": "get", "group": "", "resource": "pods", "subresource": "log", "namespace": "shop"
    }  # fmt: skip
