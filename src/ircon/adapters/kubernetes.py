"""Kubernetes through kubectl on the shell adapter's argv path: roll a deployment back,
or scale it to zero as an emergency stop.

Parameters are validated as Kubernetes names (so none can start with '-'),
options are single ``--flag=value`` items, and the resource comes after
``--``: no parameter can ever become a kubectl flag.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ircon.adapters.base import Adapter, Context, Plan, Result
from ircon.adapters.params import ActionSpec, ParamSpec
from ircon.adapters.settings import KubernetesSettings
from ircon.adapters.shell import base_env, proc_result, resolve_binary, run_argv

REVISION_PATH = r"{.metadata.annotations.deployment\.kubernetes\.io/revision}"


def _ns() -> ParamSpec:
    return ParamSpec("namespace", "namespace", "namespace (default from config)", required=False)


class KubernetesAdapter(Adapter):
    type_name: ClassVar[str] = "kubernetes"
    settings: KubernetesSettings
    ACTIONS = (
        ActionSpec("rollback", "roll a deployment back to its previous (or a given) revision",
                   (ParamSpec("deployment", "deployment", "deployment name"),
                    ParamSpec("revision", "integer", "revision to go back to", required=False,
                              minimum=1), _ns()),
                   destructive=True, idempotent=False,
                   undo="kubectl rollout undo --to-revision=<revision before the rollback>"),
        ActionSpec("scale-zero", "scale a deployment to zero replicas (emergency stop)",
                   (ParamSpec("deployment", "deployment", "deployment name"), _ns()),
                   destructive=True, idempotent=True,
                   undo="kubectl scale --replicas=<replicas before the change>"),
    )

    def _kubectl(self, ns: str) -> list[str]:
        s = self.settings
        argv = [resolve_binary(s.kubectl)]
        if s.kubeconfig:
            argv.append(f"--kubeconfig={s.kubeconfig}")
        if s.context:
            argv.append(f"--context={s.context}")
        argv.append(f"--namespace={ns}")
        return argv

    def _get(self, ns: str, deployment: str, jsonpath: str) -> list[str]:
        return [*self._kubectl(ns), "get", f"--output=jsonpath={jsonpath}", "--",
                f"deployment/{deployment}"]

    def build(self, spec: ActionSpec, values: dict[str, Any], plan: Plan, ctx: Context) -> None:
        ns = values.get("namespace") or self.settings.namespace
        dep = values["deployment"]
        if spec.name == "rollback":
            argv = [*self._kubectl(ns), "rollout", "undo"]
            if "revision" in values:
                argv.append(f"--to-revision={values['revision']}")
            argv += ["--", f"deployment/{dep}"]
            before = self._get(ns, dep, REVISION_PATH)
            plan.summary = f"roll back deployment/{dep} in {ns}" + (
                f" to revision {values['revision']}" if "revision" in values else "")
        else:
            argv = [*self._kubectl(ns), "scale", "--replicas=0", "--", f"deployment/{dep}"]
            before = self._get(ns, dep, "{.spec.replicas}")
            plan.summary = f"scale deployment/{dep} in {ns} to 0 replicas"
        plan.argv = argv
        plan.change = {"reads first (for undo)": before}
        plan.private.update(argv=argv, before=before, ns=ns, dep=dep)

    def _run(self, argv: list[str], action: str, summary: str, **kw: Any) -> Result:
        s = self.settings
        pr = run_argv(argv, env=base_env(), cwd=None, timeout=s.timeout, max_output=s.max_output)
        return proc_result(action, pr, summary, self.redactor(), **kw)

    def execute(self, plan: Plan) -> Result:
        ns, dep = plan.private["ns"], plan.private["dep"]
        before = self._run(plan.private["before"], plan.action, "read")
        prev = before.output.strip() if before.ok else ""
        undo: dict[str, Any] | None = None
        details: dict[str, Any] = {}
        if prev.isdigit():
            key = "revision" if plan.action == "rollback" else "replicas"
            undo = {"namespace": ns, "deployment": dep, key: int(prev)}
            details["previous_" + key] = int(prev)
        else:
            details["undo_unavailable"] = "could not read the deployment's state first: " + (
                before.error or "unexpected answer")
        res = self._run(plan.private["argv"], plan.action, plan.summary, details=details)
        if res.ok:
            res.undo = undo
        return res

    def undo(self, result: Result, ctx: Context) -> Result:
        u = result.undo or {}
        if not u:
            return super().undo(result, ctx)
        # The stored values passed validation once; check them again before use.
        from ircon.adapters.params import KINDS

        ns = KINDS["namespace"].check("namespace", str(u["namespace"]))
        dep = KINDS["deployment"].check("deployment", str(u["deployment"]))
        if result.action == "rollback":
            argv = [*self._kubectl(ns), "rollout", "undo", f"--to-revision={int(u['revision'])}",
                    "--", f"deployment/{dep}"]
        elif result.action == "scale-zero":
            argv = [*self._kubectl(ns), "scale", f"--replicas={int(u['replicas'])}", "--",
                    f"deployment/{dep}"]
        else:
            return super().undo(result, ctx)
        return self._run(argv, "undo", f"undo {result.action} of deployment/{dep}")
