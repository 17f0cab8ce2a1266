"""Chaos Toolkit providers chaostoolkit-kubernetes lacks, each fault paired with its rollback.

One module per family (pods, nodes, workloads, network, chaosmesh, certs, dr), plus `hold` (the
method's hold step) and `outcome` (a Chaos Toolkit control that fails a run whose injection
failed). The experiment templates in experiments/ call these functions as python providers.

The contract every fault keeps (the marks are written by bot/faults/marks.py only):

- Every object a fault creates carries the label `chaosbot.io/run-id: <run id>` and the
  annotation `chaosbot.io/created: "true"` (`marks.created_metadata`).
- Every object a fault changes (a node cordoned, a workload scaled, limits lowered, a
  certificate swapped) is labelled the same way and keeps what it had before in the annotation
  `chaosbot.io/original` (JSON), written in the same request as the change (`marks.claim`).
  The record is enough to restore it from the cluster alone (a swapped certificate's data is in
  a labelled backup Secret the record names; a deleted workload is in the labelled snapshot
  ConfigMap of bot/faults/dr.py).
- Both carry `chaosbot.io/expires-at` (RFC 3339 UTC): the moment of the first write plus the
  run's hold plus `marks.GRACE_SECONDS`. After it the fault is abandoned (the worker died
  before its rollbacks) and the janitor's sweep (bot/k8s/sweep.py) deletes what was created and
  restores what was changed, with the restore functions of these modules. The hold is the
  experiment's `hold_seconds`: chaoslib passes the experiment's configuration to a provider
  with a `configuration` parameter, under `chaos run` as in the worker; Chaos Mesh providers
  use their own `hold_seconds` argument, which also sets the object's `duration`.
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
