"""Steady-state probes: where a probe may be aimed, and the one client every probe goes through.

`target.check_probe_url` is the one rule (the onboarding form, chaos.yaml and every probe run
it); `http.probe_http` is the Chaos Toolkit provider the experiments' steady-state hypotheses call.
"""
