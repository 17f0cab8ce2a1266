"""Kubernetes API clients: from the kubeconfig (one per context) or the in-cluster config."""

from __future__ import annotations

import threading

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from bot.catalog.cluster import ClusterUnreachable
from bot.config import Settings

__all__ = ["ClientFactory"]


class ClientFactory:
    """Builds and caches one ApiClient per kubeconfig context."""

    def __init__(self, *, kubeconfig: str | None, default_context: str | None) -> None:
        self._kubeconfig = kubeconfig
        self._default_context = default_context
        self._clients: dict[str | None, client.ApiClient] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientFactory:
        return cls(kubeconfig=settings.kubeconfig, default_context=settings.kube_context)

    def api_client(self, context: str | None) -> client.ApiClient:
        """The client for `context` (None: CHAOSBOT_KUBE_CONTEXT, else the current context)."""
        context = context or self._default_context
        with self._lock:
            found = self._clients.get(context)
            if found is None:
                found = self._clients[context] = self._build(context)
            return found

    def _build(self, context: str | None) -> client.ApiClient:
        try:
            if self._kubeconfig is None:
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)
                return client.ApiClient(configuration)
            return config.new_client_from_config(config_file=self._kubeconfig, context=context)
        except ConfigException as exc:
            raise ClusterUnreachable(context, str(exc)) from None

    def close(self) -> None:
        with self._lock:
            for api in self._clients.values():
                api.close()
            self._clients.clear()
