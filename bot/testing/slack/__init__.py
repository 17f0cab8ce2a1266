"""The Slack Web API test server, reached by the real `WebClient`; a simulator of Slack."""
