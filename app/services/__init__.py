"""The service layer: the one way in for the CLI, the API, the chat and the autopilot.
Services take and return pydantic models; surfaces only render them."""
