"""Static assets of the embeddable chat widget (served by `assistant.api.web`)."""
