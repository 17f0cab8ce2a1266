"""Steady-state probes: where an HTTP probe may be aimed, the providers hypotheses call, the watch.

`target.check_probe_url` is the one rule (the onboarding form, chaos.yaml and every probe run
it); `http.probe_http` and `pods.probe_pods` (ready pods against desired replicas) are the Chaos
Toolkit providers the experiments' steady-state hypotheses call; `watch` runs them while the
fault is in place.
"""
