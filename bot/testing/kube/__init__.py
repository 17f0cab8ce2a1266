"""The Kubernetes API test server, reached by the real `kubernetes` client; a health endpoint."""
