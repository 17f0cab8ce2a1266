"""The load a service's owners put on it while an experiment runs: the profile (profile), the
Job and ConfigMap it runs as (job), and the Chaos Toolkit control that starts and stops it
(control)."""
