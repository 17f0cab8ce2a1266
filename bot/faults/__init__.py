"""Chaos Toolkit providers chaostoolkit-kubernetes lacks, each fault paired with its rollback.

One module per family (pods, nodes, workloads, network, chaosmesh, certs, dr), plus `hold` (the
method's hold step) and `outcome` (a Chaos Toolkit control that fails a run whose injection
failed). The experiment templates in experiments/ call these functions as python providers.

The contract every fault keeps:

- Every object a fault creates carries the label `chaosbot.io/run-id: <run id>`.
- Every object a fault changes (a node cordoned, a workload scaled, limits lowered, a
  certificate swapped) is labelled the same way and keeps what it had before in the annotation
  `chaosbot.io/original` (JSON), written in the same request as the change.
- The rollbacks find their work by that label only, so they are idempotent: safe to run twice,
  safe when the action never ran or stopped half way.

Cluster access goes through `chaosk8s.create_k8s_api_client(secrets)`, the client every
chaostoolkit-kubernetes activity uses, so both pick the cluster the same way:

1. If the kubeconfig file exists (the `KUBECONFIG` variable, one path, default
   `~/.kube/config`), its context `KUBERNETES_CONTEXT` is used, looked up first in the
   activity's secrets and then in the environment; without it, the file's current-context.
   Note that the kubernetes client reads `KUBECONFIG` once, when it is first imported, so set
   it before the process starts (the worker's environment), not later.
2. Otherwise, with `CHAOSTOOLKIT_IN_POD=true`, the in-cluster service account.
3. Otherwise `KUBERNETES_HOST` and friends from the secrets or the environment.

Templates pass `secrets: [kubernetes]` to every provider that talks to the cluster, so a
rendered experiment pins its cluster with `secrets: {kubernetes: {KUBERNETES_CONTEXT: ...}}`
(see bot.library.render) and an unrendered one follows the environment.
"""
